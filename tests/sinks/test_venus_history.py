"""/History/* and a persisted /CustomName on a private dbus-daemon, across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

from dbus_fast import Variant

from batmux.config import Config, parse_config
from batmux.model.alarms import Alarm
from batmux.model.state import BatteryState
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sinks.venus import VenusService
from batmux.sinks.venus_config import VenusConfig
from mqtt_helpers import running
from sinks.test_venus_service import _wait_name
from sinks.venus_states import bank_state

NAME = "com.victronenergy.battery.bank"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def three_states() -> list[BatteryState]:
    """Discharging at 12.5 A with a pack under-voltage alarm, then full and charging at 5 A."""
    first = bank_state(T0)
    assert first.sample is not None
    low = first.sample.with_(
        timestamp=T0 + 30,
        voltage_v=26.10,
        charge_ah=127.9,
        alarms=frozenset({Alarm.PACK_UNDERVOLTAGE}),
    )
    full = first.sample.with_(
        timestamp=T0 + 60,
        voltage_v=28.4,
        current_a=5.0,
        soc_pct=100.0,
        charge_ah=200.0,
        temperatures_c=(31.0, 29.5),
    )
    return [first, dataclasses.replace(first, sample=low), dataclasses.replace(first, sample=full)]


async def test_history_paths_with_real_values(dbus_address: str, monitor, tmp_path) -> None:
    clock = Clock()
    service = VenusService(
        VenusConfig(battery="bank"), dbus_address, state_dir=tmp_path, wall_clock=clock
    )
    for state in three_states():
        assert state.sample is not None
        clock.now = state.sample.timestamp
        await service.update(state)
    clock.now += 125
    await service.tick()
    await monitor.scan(NAME)

    # 12.5 A for 30 s, then -12.5 → +5 A over 30 s (zero crossed after 21.4 s): 0.1414 Ah.
    expected = {
        "/History/MinimumVoltage": 26.1,
        "/History/MaximumVoltage": 28.4,
        "/History/MinimumCellVoltage": 3.298,
        "/History/MaximumCellVoltage": 3.31,
        "/History/MinimumTemperature": 21.0,
        "/History/MaximumTemperature": 31.0,
        "/History/DeepestDischarge": -72.1,
        "/History/LastDischarge": 0.0,  # reset by the full charge
        "/History/AverageDischarge": -72.1,  # the one discharge that full charge closed
        "/History/TotalAhDrawn": -0.141,
        "/History/FullDischarges": 0,
        "/History/AutomaticSyncs": 1,
        "/History/LowVoltageAlarms": 1,
        "/History/HighVoltageAlarms": 0,
        "/History/TimeSinceLastFullCharge": 125,
    }
    assert {p: monitor.value(NAME, p) for p in expected} == expected
    assert monitor.items[NAME]["/History/TimeSinceLastFullCharge"].signature == "i"
    assert monitor.items[NAME]["/History/TotalAhDrawn"].signature == "d"
    texts = {
        "/History/TotalAhDrawn": "-0.141Ah",
        "/History/MinimumCellVoltage": "3.298V",
        "/History/MaximumTemperature": "31°C",
        "/History/TimeSinceLastFullCharge": "125s",
        "/History/LowVoltageAlarms": "1",
    }
    for path, text in texts.items():
        assert (await monitor.call(NAME, path, "GetText")).body == [text], path
    desc = await monitor.call(NAME, "/History/DeepestDischarge", "GetDescription", "si", ["en", 0])
    assert desc.body == ["/History/DeepestDischarge (Ah)"]

    # The time since the full charge moves on with the clock, on the bus too.
    clock.now += 10
    await service.tick()
    await monitor.wait_for(lambda: monitor.value(NAME, "/History/TimeSinceLastFullCharge") == 135)
    await service.close()
    stored = json.loads((tmp_path / "venus" / "bank" / "history.json").read_text())
    assert stored["low_voltage_alarms"] == 1 and stored["full_charges"] == 1
    assert stored["last_full_at"] == T0 + 60


async def test_custom_name_writes(dbus_address: str, monitor, tmp_path: Path) -> None:
    conf = VenusConfig(battery="bank", custom_name="House bank")
    service = VenusService(conf, dbus_address, state_dir=tmp_path)
    await service.update(bank_state())
    await monitor.scan(NAME)
    name_file = tmp_path / "venus" / "bank" / "custom_name.json"

    async def write(value: Variant) -> int:
        return (await monitor.call(NAME, "/CustomName", "SetValue", "v", [value])).body[0]

    async def shown() -> str:
        return (await monitor.call(NAME, "/CustomName", "GetValue")).body[0].value

    assert await shown() == "House bank"  # the config's name until someone writes one
    assert await write(Variant("s", "x" * 65)) == 1  # too long
    assert await write(Variant("i", 3)) == 1  # not a string
    assert await write(Variant("as", ["a"])) == 1
    assert service.rejected_writes == 3 and not name_file.exists()
    assert await shown() == "House bank"

    assert await write(Variant("s", "Shed — 2×280 Ah")) == 0
    assert await shown() == "Shed — 2×280 Ah"
    assert json.loads(name_file.read_text()) == "Shed — 2×280 Ah"
    assert await write(Variant("s", "y" * 64)) == 0  # exactly the limit
    assert json.loads(name_file.read_text()) == "y" * 64

    assert await write(Variant("s", "")) == 0  # empty: back to the configured name
    assert await shown() == "House bank"
    assert json.loads(name_file.read_text()) is None
    await service.close()


def gateway_config(state_dir: Path) -> dict:
    return {
        "sample_period": 0.1,
        "publish_period": 0.2,
        "state_dir": str(state_dir),
        "batteries": [{"name": "bank", "type": "jbd", "sim": {"cells": 8, "current": -25.0}}],
        "venus": [{"battery": "bank", "device_instance": 100, "custom_name": "From config"}],
    }


@contextlib.asynccontextmanager
async def serving(config: Config, monitor) -> AsyncIterator[Gateway]:
    """A wired gateway whose Venus service is on the bus and scanned by the monitor."""
    gateway = Gateway(config)
    wire(gateway)
    async with running(gateway):
        await _wait_name(monitor, NAME)
        await monitor.scan(NAME)
        yield gateway


async def test_history_and_name_survive_a_gateway_restart(
    dbus_address: str, monitor, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", dbus_address)
    config = parse_config(gateway_config(tmp_path), "test.yaml")
    history_file = tmp_path / "venus" / "bank" / "history.json"

    async with serving(config, monitor) as first:
        assert monitor.value(NAME, "/CustomName") == "From config"
        reply = await monitor.call(NAME, "/CustomName", "SetValue", "v", [Variant("s", "Van")])
        assert reply.body == [0]
        await asyncio.sleep(0.8)  # the simulated pack discharges at 25 A
        # The gateway's own save cycle writes the history too (the same saver as its meters).
        assert "venus" in first.savers
        await asyncio.to_thread(first.save_meters)
        mid_run = json.loads(history_file.read_text())
        assert mid_run["total_drawn_ah"] > 0.002  # ≥ 0.4 s at 25 A
    stored = json.loads(history_file.read_text())  # saved again on the way out
    assert stored["total_drawn_ah"] >= mid_run["total_drawn_ah"]
    assert stored["min_voltage_v"] is not None and stored["min_cell_v"] is not None

    monitor.items.clear()
    async with serving(config, monitor):
        assert monitor.value(NAME, "/CustomName") == "Van"
        drawn = monitor.value(NAME, "/History/TotalAhDrawn")
        assert drawn <= -round(stored["total_drawn_ah"], 3) < 0  # continues, never restarts
        assert monitor.value(NAME, "/History/MinimumVoltage") <= round(stored["min_voltage_v"], 3)
        assert monitor.value(NAME, "/History/MaximumCellVoltage") >= round(stored["max_cell_v"], 3)
