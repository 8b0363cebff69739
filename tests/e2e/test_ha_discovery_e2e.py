"""Home Assistant discovery over a real broker (issue 11 #8): default_entity_id instead of
object_id, origin, the BMS's own device block, a gateway device, diagnostics that stay available
while their battery is not, and a bank without its members' cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batmux import __version__
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from e2e.test_mqtt_e2e import make_config
from mqtt_helpers import recording, running

PREFIX = "homeassistant"


async def test_discovery_as_current_home_assistant_wants_it(broker: Any, tmp_path: Path) -> None:
    config = make_config(
        broker.url,
        tmp_path,
        batteries=[
            {"name": "dies", "type": "jk", "timeout": 1.0,
             "sim": {"cells": 16, "stop_after": 3.0, "firmware": "10.08"}},
            {"name": "lives", "type": "jk", "timeout": 1.0, "sim": {"cells": 16}},
        ],
        groups=[{"name": "bank", "members": ["dies", "lives"], "min_members": 1}],
    )  # fmt: skip
    gateway = Gateway(config)
    wire(gateway)
    async with recording(broker.port) as rec, running(gateway):
        cell = f"{PREFIX}/sensor/batmux_lives/cell_16/config"
        bank_voltage = f"{PREFIX}/sensor/batmux_bank/voltage/config"
        await rec.wait_for(lambda: cell in rec.messages and bank_voltage in rec.messages)
        await rec.wait_for(
            lambda: rec.messages.get("batmux/dies/availability") == b"offline", timeout=15
        )
        configs = {
            t: json.loads(p) for t, p in rec.messages.items() if t.startswith(f"{PREFIX}/") and p
        }
        status = rec.messages["batmux/status"]
        diagnostics = rec.json("batmux/dies/diagnostics")

    # Every config: default_entity_id, origin, no deprecated object_id.
    assert len(configs) > 50
    for topic, cfg in configs.items():
        component = topic.split("/")[1]
        assert "object_id" not in cfg, topic
        assert cfg["default_entity_id"].startswith(f"{component}.batmux_"), topic
        assert cfg["origin"]["name"] == "batmux" and cfg["origin"]["sw_version"] == __version__

    # The gateway device, with its status entity on the last-will topic.
    gw = configs[f"{PREFIX}/binary_sensor/batmux_gateway/status/config"]
    assert gw["state_topic"] == "batmux/status" and gw["device_class"] == "connectivity"
    assert gw["device"]["identifiers"] == ["batmux_gateway"] and status == b"online"

    # A battery's device: the BMS's maker and what its device-info frame says, via the gateway.
    device = configs[f"{PREFIX}/sensor/batmux_dies/voltage/config"]["device"]
    assert device["manufacturer"] == "JK BMS"
    assert device["sw_version"] == "10.08"  # the simulated JK's firmware, from its frame
    assert device["model"] and device["model"] != "batmux"
    assert device["via_device"] == "batmux_gateway"

    # "dies" is unavailable now, but its diagnostics only depend on the gateway being online.
    diag = configs[f"{PREFIX}/sensor/batmux_dies/diag_last_error/config"]
    assert diag["availability"] == [{"topic": "batmux/status"}]
    assert diagnostics["last_error"]  # and there is something to read
    voltage = configs[f"{PREFIX}/sensor/batmux_dies/voltage/config"]
    assert {"topic": "batmux/dies/availability"} in voltage["availability"]

    # The bank: its own entities, none of the 32 member cells.
    bank = {t.split("/")[3] for t in configs if t.split("/")[2] == "batmux_bank"}
    assert {"voltage", "soc", "cell_min", "cell_max", "cell_delta", "members_online"} <= bank
    assert not [k for k in bank if k.startswith(("cell_", "temperature_"))
                and k not in ("cell_min", "cell_max", "cell_delta")]  # fmt: skip
    member_cells = [t for t in configs if t.startswith(f"{PREFIX}/sensor/batmux_lives/cell_")]
    assert len(member_cells) == 16 + 3  # its 16 cells, and min/max/delta
