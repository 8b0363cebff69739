"""The gateway's own wiring (config → build_source → JkDriver → BleakLink) against simulated
devices served as BlueZ, in-process and through the ``python -m batmux.sim.fake_bluez`` tool."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from batmux.config import Config
from batmux.devices.ble_options import BleOptions
from batmux.devices.jk import JkDriver
from batmux.runtime.sources import build_source
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.jk import JkSimDevice

MAC = "C8:47:8C:00:00:01"


def jk_config(address: str) -> Config:
    return Config.model_validate(
        {
            "batteries": [
                {
                    "name": "house",
                    "type": "jk",
                    "address": address,
                    "timeout": 2,
                    "ble": {"stuck_after": 5, "power_cycle_after": 0},
                }
            ]
        }
    )


async def test_config_to_sample_through_bleak(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=16, soc_pct=64.0, current_a=12.5)
    device = JkSimDevice(battery, firmware="11.48", stream_period_s=0.1)
    fake_bluez.add_device(device, MAC, "JK_B2A24S20P", manufacturer_data={0x0B65: b""})
    config = jk_config("JK_B2A24S20P")  # by advertised name
    assert config.batteries[0].ble == BleOptions(stuck_after=5)
    source = build_source(config.batteries[0], config)
    try:
        first = await source.sample()
        second = await source.sample()  # from the stream, same connection
    finally:
        await source.close()
    assert isinstance(source.driver, JkDriver)  # type: ignore[attr-defined]
    assert first.soc_pct == 64 and first.current_a == pytest.approx(12.5, abs=0.002)
    assert len(first.cell_voltages_v) == 16 and second.voltage_v == pytest.approx(
        battery.truth().voltage_v, abs=0.01
    )
    assert source.health.connects == 1


async def test_fake_bluez_command_line_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batmux.sim.fake_bluez", "--device", f"jk={MAC},JK-cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("export DBUS_SYSTEM_BUS_ADDRESS=")
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", line.strip().split("=", 1)[1])
        assert "serving jk" in await asyncio.to_thread(proc.stderr.readline)
        config = jk_config(MAC)
        source = build_source(config.batteries[0], config)
        try:
            sample = await source.sample()
        finally:
            await source.close()
        assert sample.voltage_v is not None and 0 < sample.soc_pct <= 100
    finally:
        proc.terminate()
        proc.wait(timeout=10)
