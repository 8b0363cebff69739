"""End to end over a socat pty pair: Junctek simulator → serial port → JunctekSource, polled
with ``:R50=``/``:R51=`` as the field does; bad replies dropped; the SoC fallback on a
drifted counter; and ``address: sim`` through the gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.devices.junctek import JunctekSource
from batmux.devices.junctek_options import JunctekOptions, SocFallbackOptions
from batmux.errors import NoData
from batmux.links.serial_link import SerialLink
from batmux.model.sample import BatterySample
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.battery import SimBattery
from batmux.sim.junctek import JunctekSimDevice, JunctekSimulator

Rig = tuple[JunctekSimDevice, Callable[..., JunctekSource]]


@pytest.fixture
async def rig(pty_pair: tuple[str, str]) -> AsyncIterator[Callable[..., Rig]]:
    """A simulated shunt on one end of the pair; sources made on the other end."""
    simulators: list[JunctekSimulator] = []
    sources: list[JunctekSource] = []

    async def make(battery: SimBattery, **device_kw: object) -> Rig:
        device = JunctekSimDevice(battery, **device_kw)  # type: ignore[arg-type]
        link = SerialLink(pty_pair[0], 115200)
        await link.open()
        simulators.append(JunctekSimulator(device, link))
        simulators[-1].start()

        def source(**kw: object) -> JunctekSource:
            kw.setdefault("stale_after_s", 2.0)
            link = SerialLink(pty_pair[1], 115200)
            sources.append(JunctekSource("shunt", link, **kw))  # type: ignore[arg-type]
            return sources[-1]

        return device, source

    yield make  # type: ignore[misc]
    for src in sources:
        await src.close()
    for simulator in simulators:
        await simulator.stop()


async def fresh(source: JunctekSource, timeout: float = 5.0) -> BatterySample:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(NoData):
                return await source.sample()
            await asyncio.sleep(0.05)


FAST = JunctekOptions(poll_interval=0.1, settings_interval=0.5)


async def test_polled_sample_over_a_real_pty(rig: Callable[..., Rig]) -> None:
    battery = SimBattery(cells=16, capacity_ah=280.0, soc_pct=40.0, current_a=-12.5)
    device, make_source = await rig(battery)
    source = make_source(options=FAST)
    sample = await fresh(source)
    assert sample.current_a == pytest.approx(-12.5)
    assert 16 * 3.2 < (sample.voltage_v or 0) < 16 * 3.35
    assert sample.capacity_ah == 280.0  # from :r51=
    assert sample.soc_pct == pytest.approx(40.0, abs=0.2)
    assert sample.extra["model"] == "KH-F" and sample.extra["direction"] == 0
    assert device.requests >= 2 and source.health.corrupt_frames == 0


async def test_bad_replies_are_counted_dropped_and_reading_goes_on(
    rig: Callable[..., Rig],
) -> None:
    battery = SimBattery(cells=4, capacity_ah=100.0, soc_pct=80.0, current_a=3.0)
    _, make_source = await rig(battery, corrupt_next=3)
    source = make_source(options=FAST.model_copy(update={"capacity_ah": 100.0}))
    sample = await fresh(source)
    assert source.health.corrupt_frames == 3
    assert "checksum" in source.health.last_error
    assert sample.current_a == pytest.approx(3.0)


async def test_a_silent_shunt_goes_stale(rig: Callable[..., Rig]) -> None:
    device, make_source = await rig(SimBattery(cells=4), address=2)  # answers address 2 only
    source = make_source(options=FAST, stale_after_s=0.5)
    await asyncio.sleep(0.6)
    with pytest.raises(NoData):
        await source.sample()
    assert device.requests == 0


async def test_soc_fallback_corrects_a_drifted_counter_after_a_rest(
    rig: Callable[..., Rig],
) -> None:
    # true SoC 10 % at rest (3.20 V/cell, on the LFP knee); the counter says 40 %
    battery = SimBattery(cells=4, capacity_ah=100.0, soc_pct=10.0, current_a=0.0)
    _, make_source = await rig(battery, counter_error_ah=30.0)
    now = [1000.0]
    fallback = SocFallbackOptions(cells=4, rest_minutes=30)
    options = FAST.model_copy(update={"soc_fallback": fallback})
    source = make_source(options=options, clock=lambda: now[0], stale_after_s=1e9)
    first = await fresh(source)
    assert first.soc_pct == pytest.approx(40.0, abs=0.2)
    assert first.extra["soc_source"] == "counter"
    now[0] += 1800.0  # 30 minutes at 0 A
    rested = await source.sample()
    assert rested.extra["soc_source"] == "ocv"
    assert rested.soc_pct == pytest.approx(10.0, abs=1.0)
    assert rested.extra["soc_counter"] == pytest.approx(40.0, abs=0.2)
    assert source.status()["soc_corrections"] == 1


async def test_address_sim_through_the_gateway(tmp_path: Path) -> None:
    config = parse_config(
        {
            "sample_period": 0.3,
            "publish_period": 0.5,
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "shunt",
                    "type": "junctek",
                    "address": "sim",
                    "junctek": {"poll_interval": 0.2},
                    "sim": {"cells": 8, "capacity_ah": 150, "soc": 65, "current": 20},
                }
            ],
        }
    )
    gateway = Gateway(config)
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        state = None
        for _ in range(80):
            await asyncio.sleep(0.1)
            state = gateway.hub.latest("shunt")
            if state is not None and state.sample is not None:
                break
        assert state is not None and state.sample is not None and state.available
        s = state.sample
        assert s.current_a == pytest.approx(20.0)
        assert s.capacity_ah == 150.0 and s.soc_pct == pytest.approx(65.0, abs=0.3)
        assert gateway.batteries["shunt"].health.corrupt_frames == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_missing_port_is_retried_with_backoff_and_never_crashes() -> None:
    link = SerialLink("/dev/batmux-no-such-port", 115200)
    source = JunctekSource("shunt", link, options=FAST, retry_s=(0.05, 0.1))
    try:
        with pytest.raises(NoData):
            await source.sample()
        await asyncio.sleep(0.4)
        assert source.health.drops >= 3 and source.health.connects == 0
        assert "DeviceNotFound" in source.health.last_error
        with pytest.raises(NoData):
            await source.sample()
    finally:
        await source.close()
