"""Simulated JK BMSes → runtime → real broker → a subscriber checks discovery and state."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.runtime import app
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from mqtt_helpers import recording, running


def make_config(broker_url: str, state_dir: Path, **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "mqtt": {"url": broker_url},
        "sample_period": 0.2,
        "publish_period": 0.4,
        "expire_after": 2.0,
        "state_dir": str(state_dir),
        "batteries": [
            {
                "name": "pack_a",
                "type": "jk",
                "sim": {
                    "cells": 4,
                    "capacity_ah": 100,
                    "soc": 55,
                    "current": 20.0,
                    "firmware": "10.08",
                },
            },
            {
                "name": "pack_b",
                "type": "jk02_32s",
                "allow_control": True,
                "sim": {"cells": 16, "capacity_ah": 280, "soc": 70, "current": -30.0, "seed": 5},
            },
        ],
    }
    data.update(overrides)
    return parse_config(data, "test.yaml")


def sim_battery(gateway: Gateway, name: str) -> Any:
    return gateway.batteries[name].source.driver.link.device.battery  # type: ignore[attr-defined]


async def test_discovery_state_availability_and_switches(broker: Any, tmp_path: Path) -> None:
    config = make_config(broker.url, tmp_path)
    gateway = Gateway(config)
    wire(gateway)
    async with recording(broker.port) as rec, running(gateway):
        state_a, state_b = "batmux/pack_a/state", "batmux/pack_b/state"
        disc = "homeassistant/sensor/batmux_pack_a"
        await rec.wait_for(
            lambda: (
                state_a in rec.messages
                and state_b in rec.messages
                and f"{disc}/cell_4/config" in rec.messages
            )
        )

        assert rec.messages["batmux/status"] == b"online"
        assert rec.messages["batmux/pack_a/availability"] == b"online"

        a = rec.json(state_a)
        truth = sim_battery(gateway, "pack_a").truth()
        assert len(a["cell_voltages"]) == 4
        assert a["voltage"] == pytest.approx(truth.voltage_v, abs=0.05)
        assert a["current"] == pytest.approx(20.0)
        assert a["power"] == pytest.approx(a["voltage"] * 20.0, rel=0.01)
        assert a["soc"] == pytest.approx(55, abs=1)
        assert a["capacity"] == 100.0
        assert a["cell_min"] == min(a["cell_voltages"])
        assert a["cell_delta"] == pytest.approx(max(a["cell_voltages"]) - min(a["cell_voltages"]))
        assert a["charge_enabled"] is True
        for key in ("total_charged_kwh", "total_discharged_kwh", "net_kwh"):
            assert key in a
        b = rec.json(state_b)
        assert len(b["cell_voltages"]) == 16 and b["current"] == pytest.approx(-30.0)
        assert a["time_to_go"] is None  # charging
        assert b["time_to_go"] == pytest.approx(b["charge"] / 30.0 * 3600, rel=1e-3)

        voltage = rec.json(f"{disc}/voltage/config")
        assert voltage["device_class"] == "voltage"
        assert voltage["unit_of_measurement"] == "V"
        assert voltage["state_class"] == "measurement"
        assert voltage["unique_id"] == "batmux_pack_a_voltage"
        assert voltage["state_topic"] == state_a
        assert voltage["value_template"] == "{{ value_json.voltage }}"
        assert voltage["device"]["identifiers"] == ["batmux_pack_a"]
        assert {"topic": "batmux/pack_a/availability"} in voltage["availability"]
        soc = rec.json(f"{disc}/soc/config")
        assert (soc["device_class"], soc["unit_of_measurement"]) == ("battery", "%")
        energy = rec.json(f"{disc}/total_charged_kwh/config")
        assert energy["device_class"] == "energy"
        assert energy["unit_of_measurement"] == "kWh"
        assert energy["state_class"] == "total_increasing"
        cell = rec.json(f"{disc}/cell_4/config")
        assert cell["value_template"] == "{{ value_json.cell_voltages[3] }}"
        assert cell["enabled_by_default"] is False and cell["entity_category"] == "diagnostic"
        temp = rec.json(f"{disc}/temperature_1/config")
        assert (temp["device_class"], temp["unit_of_measurement"]) == ("temperature", "°C")
        ttg = rec.json(f"{disc}/time_to_go/config")
        assert (ttg["device_class"], ttg["unit_of_measurement"]) == ("duration", "s")
        diag = rec.json(f"{disc}/diag_corrupt_frames/config")
        assert diag["entity_category"] == "diagnostic"

        # Control is opt-in: pack_a has binary sensors only, pack_b has switches.
        assert "homeassistant/switch/batmux_pack_a/charge/config" not in rec.messages
        assert "homeassistant/binary_sensor/batmux_pack_a/charge_enabled/config" in rec.messages
        switch = rec.json("homeassistant/switch/batmux_pack_b/charge/config")
        assert switch["command_topic"] == "batmux/pack_b/charge/set"

        assert rec.client is not None
        await rec.client.publish("batmux/pack_a/charge/set", b"OFF")
        await rec.client.publish("batmux/pack_b/discharge/set", b"maybe")  # invalid: ignored
        await rec.client.publish("batmux/pack_b/charge/set", b"OFF")
        await rec.wait_for(lambda: rec.json(state_b)["charge_enabled"] is False)
        assert sim_battery(gateway, "pack_b").charge_enabled is False
        assert sim_battery(gateway, "pack_b").discharge_enabled is True
        assert sim_battery(gateway, "pack_a").charge_enabled is True
        assert rec.json(state_a)["charge_enabled"] is True


async def test_broker_restart_reconnects_and_meters_keep_counting(
    broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(app, "TOTALS_PERIOD_S", 0.0)  # totals move on every publish here
    gateway = Gateway(make_config(broker.url, tmp_path))
    wire(gateway)
    async with running(gateway):
        async with recording(broker.port) as rec:
            await rec.wait_for(lambda: "batmux/pack_a/state" in rec.messages)
            await asyncio.sleep(1.0)
            before = rec.json("batmux/pack_a/state")["total_charged_kwh"]
            assert before > 0
        await broker.restart()
        async with recording(broker.port) as rec:
            await rec.wait_for(lambda: "batmux/pack_a/state" in rec.messages, timeout=20)
            await rec.wait_for(
                lambda: "homeassistant/sensor/batmux_pack_a/voltage/config" in rec.messages
            )
            after = rec.json("batmux/pack_a/state")["total_charged_kwh"]
            assert after >= before
            assert rec.messages["batmux/status"] == b"online"


async def test_dead_device_goes_unavailable_while_the_other_continues(broker: Any, tmp_path):
    config = make_config(
        broker.url,
        tmp_path,
        batteries=[
            {"name": "dies", "type": "jk", "timeout": 1.0, "sim": {"cells": 4, "stop_after": 2.5}},
            {
                "name": "lives",
                "type": "jk",
                "timeout": 1.0,
                "sim": {"cells": 8, "corrupt_rate": 0.2},
            },
        ],
    )
    gateway = Gateway(config)
    wire(gateway)
    async with recording(broker.port) as rec, running(gateway):
        await rec.wait_for(lambda: rec.messages.get("batmux/dies/availability") == b"online")
        await rec.wait_for(
            lambda: rec.messages.get("batmux/dies/availability") == b"offline", timeout=10
        )
        first = rec.json("batmux/lives/state")["timestamp"]
        await rec.wait_for(lambda: rec.json("batmux/lives/state")["timestamp"] > first, 5)
        assert rec.messages["batmux/lives/availability"] == b"online"
        diagnostics = rec.json("batmux/dies/diagnostics")
        assert diagnostics["errors"] > 0 and diagnostics["last_error"]


async def test_clean_stop_says_offline_on_the_status_topic(broker: Any, tmp_path: Path) -> None:
    # a clean disconnect suppresses the broker's last will, so the sink says it itself
    gateway = Gateway(make_config(broker.url, tmp_path))
    wire(gateway)
    async with recording(broker.port) as rec:
        async with running(gateway):
            await rec.wait_for(lambda: rec.messages.get("batmux/status") == b"online")
        await rec.wait_for(lambda: rec.messages.get("batmux/status") == b"offline", timeout=5)
    async with recording(broker.port) as rec:  # and it is retained
        await rec.wait_for(lambda: rec.messages.get("batmux/status") == b"offline", timeout=5)


async def test_killed_gateway_leaves_its_last_will(broker: Any, tmp_path: Path) -> None:
    config = tmp_path / "batmux.yaml"
    config.write_text(
        f"mqtt: {{url: '{broker.url}'}}\nstate_dir: {tmp_path}\n"
        "batteries:\n  - {name: pack, type: jk, address: sim, sim: {cells: 4}}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batmux.cli", "run", "-c", str(config)
    )
    try:
        async with recording(broker.port) as rec:
            await rec.wait_for(lambda: rec.messages.get("batmux/status") == b"online", 15)
            proc.kill()
            await rec.wait_for(lambda: rec.messages.get("batmux/status") == b"offline", 10)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
