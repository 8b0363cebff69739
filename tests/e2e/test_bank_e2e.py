"""Two simulated packs in a parallel bank over the real broker: one pack stops, the bank counts
it offline and, with ``min_members: 2``, its limits drop to 0 A with reason ``stale`` within
2 × stale_after. An inverter link publishes its state and "inverter alive" as HA entities."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from conftest import free_port
from mqtt_helpers import recording, running

STALE_AFTER = 2.0


def bank_config(broker_url: str, state_dir: Path, min_members: int, **extra: Any) -> Any:
    limits = {"stale_after": STALE_AFTER}
    return parse_config(
        {
            "mqtt": {"url": broker_url},
            "sample_period": 0.2,
            "publish_period": 0.4,
            "expire_after": 30.0,
            "state_dir": str(state_dir),
            "batteries": [
                {
                    "name": "pack1",
                    "type": "jk",
                    "timeout": 1.0,
                    "limits": limits,
                    "sim": {"cells": 16, "capacity_ah": 280, "soc": 60, "current": 10},
                },
                {
                    "name": "pack2",
                    "type": "jbd",
                    "timeout": 1.0,
                    "limits": limits,
                    "sim": {
                        "cells": 16,
                        "capacity_ah": 280,
                        "soc": 50,
                        "current": 10,
                        "stop_after": 3.0,
                    },
                },
            ],
            "groups": [
                {
                    "name": "bank",
                    "mode": "parallel",
                    "members": ["pack1", "pack2"],
                    "min_members": min_members,
                    "limits": limits,
                }
            ],
            **extra,
        },
        "bank.yaml",
    )


async def test_parallel_bank_member_offline_and_stale_limits(broker: Any, tmp_path: Path):
    port = free_port()
    inverter = {
        "name": "gen24",
        "type": "byd_modbus",
        "battery": "bank",
        "listen": f"127.0.0.1:{port}",
    }
    gateway = Gateway(bank_config(broker.url, tmp_path, 2, inverters=[inverter]))
    wire(gateway)
    async with recording(broker.port) as rec, running(gateway):
        topic = "batmux/bank/state"
        await rec.wait_for(
            lambda: topic in rec.messages and rec.json(topic).get("members_online") == 2
        )
        bank = rec.json(topic)
        p1, p2 = rec.json("batmux/pack1/state"), rec.json("batmux/pack2/state")
        assert bank["capacity"] == pytest.approx(560.0)
        assert bank["current"] == pytest.approx(p1["current"] + p2["current"], abs=0.5)
        assert bank["soc"] == pytest.approx(55, abs=1.5)
        assert bank["charge_current_limit"] > 0 and bank["charge_voltage_limit"] > 50
        assert isinstance(bank["limit_reason"], str)
        config = rec.json("homeassistant/sensor/batmux_bank/charge_current_limit/config")
        assert (config["device_class"], config["unit_of_measurement"]) == ("current", "A")
        assert config["device"]["model"] == "Battery group"
        assert "homeassistant/sensor/batmux_bank/members_offline/config" in rec.messages

        # The inverter link is its own device with state and "inverter alive".
        await rec.wait_for(lambda: "batmux/gen24/state" in rec.messages)
        assert "inverter_alive" in rec.json("batmux/gen24/state")
        alive = rec.json("homeassistant/binary_sensor/batmux_gen24/inverter_alive/config")
        assert alive["device_class"] == "connectivity"

        # pack2 stops answering at t = 3 s.
        await rec.wait_for(lambda: rec.json(topic).get("members_offline") == 1, timeout=10)
        stopped_seen = time.monotonic()
        await rec.wait_for(lambda: rec.json(topic).get("limit_reason") == "stale", timeout=10)
        bank = rec.json(topic)
        assert bank["charge_current_limit"] == 0
        assert bank["discharge_current_limit"] == 0
        assert bank["available"] is False
        assert time.monotonic() - stopped_seen <= 2 * STALE_AFTER + 1


async def test_bank_without_min_members_keeps_going_on_one_pack(broker: Any, tmp_path: Path):
    gateway = Gateway(bank_config(broker.url, tmp_path, 1))
    wire(gateway)
    async with recording(broker.port) as rec, running(gateway):
        topic = "batmux/bank/state"
        await rec.wait_for(
            lambda: topic in rec.messages and rec.json(topic).get("members_offline") == 1,
            timeout=15,
        )
        await asyncio.sleep(2 * STALE_AFTER)
        bank = rec.json(topic)
        assert bank["members_online"] == 1
        assert bank["capacity"] == pytest.approx(280.0)
        assert bank["limit_reason"] != "stale"
        assert bank["charge_current_limit"] > 0
