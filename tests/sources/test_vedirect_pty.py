"""End to end over a socat pty pair: simulator → serial port → VeDirectSource."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from batmux.config import BatteryConfig
from batmux.devices.vedirect_source import VeDirectSource, create_source
from batmux.errors import ControlRefused, NoData
from batmux.links.serial_link import SerialLink
from batmux.model.sample import BatterySample
from batmux.protocols.vedirect_hex import REG_BATTERY_CAPACITY
from batmux.protocols.vedirect_text import VeDirectCodec
from batmux.sim.battery import SimBattery
from batmux.sim.vedirect import VeDirectSimDevice, VeDirectSimulator


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def fresh_sample(source: VeDirectSource, timeout: float = 5.0) -> BatterySample:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await source.sample()
        except NoData:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


Rig = tuple[VeDirectSimDevice, VeDirectSimulator, Callable[..., VeDirectSource]]


@pytest.fixture
async def rig(pty_pair: tuple[str, str]) -> AsyncIterator[Callable[[str, float], Awaitable[Rig]]]:
    made: list[tuple[VeDirectSimulator, VeDirectSource]] = []

    async def make(kind: str, current: float) -> Rig:
        battery = SimBattery(cells=4, capacity_ah=100.0, soc_pct=60.0, current_a=current)
        device = VeDirectSimDevice(battery, kind, hex_every=2)  # type: ignore[arg-type]
        link = SerialLink(pty_pair[0])
        await link.open()
        simulator = VeDirectSimulator(device, link, period_s=0.1)
        simulator.start()

        def source(**kw: object) -> VeDirectSource:
            src = VeDirectSource(
                "shunt", SerialLink(pty_pair[1]), VeDirectCodec(capacity_ah=100.0),
                stale_after_s=1.0, **kw,  # type: ignore[arg-type]
            )  # fmt: skip
            made.append((simulator, src))
            return src

        return device, simulator, source

    yield make
    for simulator, src in made:
        await src.close()
        await simulator.stop()


async def test_shunt_over_pty_with_corrupt_block_and_hex(rig) -> None:
    device, simulator, make_source = await rig("bmv", -5.0)
    source = make_source()
    s = await fresh_sample(source)
    assert s.current_a == -5.0
    assert s.soc_pct == pytest.approx(60.0, abs=0.1)
    assert s.voltage_v == pytest.approx(device.battery.truth().voltage_v, abs=0.01)
    assert s.capacity_ah == 100.0 and s.charge_ah == pytest.approx(60.0, abs=0.1)
    assert s.extra["time_to_go_s"] == pytest.approx(60 / 5 * 3600, rel=0.01)

    device.corrupt_next = 1

    async def corrupt_seen() -> bool:
        return source.health.corrupt_frames >= 1

    await eventually(corrupt_seen)
    assert device.blocks_corrupted == 1
    again = await source.sample()  # the last good state (then newer good blocks) stays
    assert again.current_a == -5.0

    answer = await source.get_register(REG_BATTERY_CAPACITY)
    assert answer.value_int() == 100

    await simulator.stop()
    await asyncio.sleep(1.2)
    with pytest.raises(NoData):
        await source.sample()


async def test_mppt_over_pty_switch_needs_allow_control(rig) -> None:
    device, _, make_source = await rig("mppt", 10.0)
    locked = make_source()
    s = await fresh_sample(locked)
    assert s.current_a == 10.0 and s.extra["charger_state"] == "bulk"
    with pytest.raises(ControlRefused):
        await locked.set_switch("charge", False)
    assert device.charger_on
    await locked.close()

    source = make_source(allow_control=True)
    await fresh_sample(source)
    await source.set_switch("charge", False)
    assert device.charger_on is False

    async def charger_off() -> bool:
        reading = await source.mppt_reading()
        return reading.state_name == "off" and reading.battery_current_a == 0

    await eventually(charger_off)
    await source.set_switch("charge", True)
    assert device.charger_on


async def test_sim_address_runs_simulator_on_own_pty() -> None:
    battery = BatteryConfig(name="shunt", type="vedirect", address="sim")
    source = create_source(battery)
    try:
        s = await fresh_sample(source, timeout=4.0)
        assert s.soc_pct == pytest.approx(60.0, abs=0.1)
        assert s.current_a == -5.0
    finally:
        await source.close()


async def test_sim_mppt_address() -> None:
    source = create_source(BatteryConfig(name="solar", type="vedirect", address="sim:mppt"))
    try:
        reading = None
        deadline = time.monotonic() + 4
        while reading is None:
            try:
                reading = await source.mppt_reading()
            except NoData:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        assert reading.state_name == "off"  # the default sim current −5 A: no sun
        assert reading.product_id == "0xA053"
    finally:
        await source.close()
