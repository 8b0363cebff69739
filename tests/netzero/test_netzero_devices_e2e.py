"""The loop drives the simulated AhoyDTU, OpenDTU and Shelly over loopback HTTP exactly as real
ones (needs the device clients and simulators of batmux.netzero.devices and batmux.sim)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from batmux.netzero.consumption import MqttConsumption, SumConsumption
from batmux.netzero.controller import Settings
from batmux.netzero.device_config import ChargerEntry, InverterEntry
from batmux.netzero.ports import MonotonicClock
from batmux.netzero.runtime import NetzeroRunner
from batmux.sim.house import encode_meter
from batmux.sim.hoymiles import HoymilesModel
from netzero.nz_helpers import HEALTHY, Rig, cancel_all

devices = pytest.importorskip("batmux.netzero.devices")
ahoydtu = pytest.importorskip("batmux.sim.ahoydtu")


@pytest.mark.parametrize("kind", ["ahoydtu"])  # "opendtu" passes too (6 s more: not by default)
async def test_loop_holds_the_grid_and_a_lock_stops_the_inverter(kind: str, tmp_path: Path) -> None:
    clock = MonotonicClock()
    model = HoymilesModel(600.0, limit_delay_s=0.5, seed=2)
    model.limit_percent = 0.0
    if kind == "ahoydtu":
        sim = ahoydtu.AhoyDtuSim([model], clock)
        entry = InverterEntry(type="ahoydtu", url="", id=0, max_power=600)
    else:
        opendtu = pytest.importorskip("batmux.sim.opendtu")
        sim = opendtu.OpenDtuSim({"114182000001": model}, clock)
        entry = InverterEntry(type="opendtu", url="", serial="114182000001", max_power=600,
                              password="openDTU42")  # fmt: skip
    url = await sim.start()
    entry = entry.model_copy(update={"url": url})
    rig = Rig()
    battery = [HEALTHY]
    meter = MqttConsumption(rig.cfg.consumption[0].mqtt, clock)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        inverter = devices.build_inverter(entry, config_dir=tmp_path, clock=clock, session=session)
        runner = NetzeroRunner(
            rig.cfg, clock=clock, consumption=SumConsumption([meter]), inverters=[inverter],
            switches=[], battery=lambda: battery[0],
            settings=Settings(up_settle_s=1.0, up_window_s=3.0, up_min_points=3),
        )  # fmt: skip

        async def house() -> None:
            while True:
                grid = 350.0 - model.ac_power_w(clock.now())
                meter.feed(encode_meter(grid, "int16"))
                await asyncio.sleep(0.2)

        tasks = [asyncio.create_task(c) for c in (house(), runner.run(), inverter.run())]
        try:
            async with asyncio.timeout(40):
                while not 250 <= model.ac_power_w(clock.now()) <= 345:
                    await asyncio.sleep(0.2)
            battery[0] = replace(HEALTHY, cell_min_v=3.0)
            started = clock.now()
            async with asyncio.timeout(10):
                while model.ac_power_w(clock.now()) > 0:
                    await asyncio.sleep(0.1)
            assert clock.now() - started <= 5.0
            assert runner.state()["locks"] == ["cell_low: 3.000 V (locks below 3.1 V)"]
        finally:
            await cancel_all(tasks)
            await sim.stop()


async def test_charge_mode_switches_a_shelly_and_cell_high_switches_it_off() -> None:
    shelly = pytest.importorskip("batmux.sim.shelly")
    clock = MonotonicClock()
    sim = shelly.ShellySim(gen=2, clock=clock, load_w=500.0)
    url = await sim.start()
    rig = Rig(mode="charge")
    battery = [HEALTHY]
    meter = MqttConsumption(rig.cfg.consumption[0].mqtt, clock)  # type: ignore[arg-type]
    meter.feed(b"\x00\x64")
    async with aiohttp.ClientSession() as session:
        entry = ChargerEntry(type="shelly", url=url, relay=0, gen=2, power=500, name="charger")
        switch = devices.build_charger(entry, clock=clock, session=session)
        runner = NetzeroRunner(
            rig.cfg, clock=clock, consumption=SumConsumption([meter]), inverters=[],
            switches=[switch], battery=lambda: battery[0], roles={"charger": "charger"},
        )  # fmt: skip
        tasks = [asyncio.create_task(c) for c in (runner.run(), switch.run())]
        try:
            async with asyncio.timeout(10):
                while not sim.on[0]:
                    await asyncio.sleep(0.05)
            battery[0] = replace(HEALTHY, cell_max_v=3.7)
            async with asyncio.timeout(5):
                while sim.on[0]:
                    await asyncio.sleep(0.05)
            assert runner.state()["locks"] == ["cell_high: 3.700 V (locks above 3.65 V)"]
            assert runner.state()["devices"]["charger"]["requested_on"] is False
        finally:
            await cancel_all(tasks)
            await sim.stop()
