"""The simulated BYD batteries on their own wires: the BYD CAN battery's frames, ids and
periods against the shared vector, the Modbus battery's raw registers (+ = discharging on the
wire), and ``stop_after`` silencing both. Real python-can virtual bus, real pymodbus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import pytest

from batmux.devices.byd_modbus_source import BydModbusSource
from batmux.devices.can_source import CanSource
from batmux.errors import BatmuxError, NoData
from batmux.links.can_bus import CanLink
from batmux.links.modbus import ModbusLink
from batmux.protocols.byd_modbus import LIVE, UNIT_ID, to_s16
from batmux.protocols.can_codec import can_codec
from batmux.sim.battery import SimBattery
from batmux.sim.bms import run_for
from batmux.sim.byd_modbus import free_tcp_port, run_byd_modbus_battery
from batmux.sim.can_battery import run_byd_can_battery
from batmux.sinks.can_inverter_config import BydCanPeriods
from protocols import can_vectors
from sinks.can_bus_helpers import Recorder, background, channel, intervals, wait_until

T = TypeVar("T")
FAST = BydCanPeriods(limits=0.1, states=0.1, info=0.1, temps=0.1, alarm=0.5)


def pack(current: float = -12.0) -> SimBattery:
    return SimBattery(cells=32, capacity_ah=50, soc_pct=70, current_a=current)


async def eventually(
    read: Callable[[], Awaitable[T]], ok: Callable[[T], bool] = bool, timeout: float = 4.0
) -> T:
    """``read()`` again until it works and ``ok`` holds: the machine may be busy."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(BatmuxError):
                if ok(value := await read()):
                    return value
            await asyncio.sleep(0.05)


# -- BYD CAN -----------------------------------------------------------------------------------


async def test_byd_can_frames_ids_and_periods_match_the_vector() -> None:
    vector = can_vectors.load("byd_hvs_can_sunshadecorp")
    expected = can_vectors.by_id(vector)
    cfg = channel()
    probe = Recorder(cfg)
    await probe.link.open()  # listening before the battery's first frame
    async with background(probe.run()), background(run_byd_can_battery("b", pack(), CanLink(cfg))):
        await wait_until(lambda: len(probe.of(0x110)) >= 2, timeout=6.0)
    frames = [f for f in probe.frames if f[0] <= probe.of(0x110)[1][0]]
    battery = [(t, i, d) for t, i, d in frames if i not in (0x091, 0x0D1, 0x151)]
    ids = {i for _, i, _ in battery}
    assert ids == {i for i in expected if i != 0x151}  # 0x151 is the inverter's
    assert all(len(d) == 8 for _, _, d in battery)
    first = {}
    for _, i, d in battery:
        first.setdefault(i, d)
    for static in (0x290, 0x2D0, 0x190):
        assert first[static] == expected[static]
    assert [d for _, i, d in battery if i == 0x3D0] == [
        d for i, d in can_vectors.frames(vector) if i == 0x3D0
    ]  # "Battery-Box Premium HVS" in four parts
    init1 = first[0x250]
    assert init1[:4] == expected[0x250][:4] and init1[6:] == expected[0x250][6:]
    # periods_s of the vector: 0x110 every 2 s, the others only every 10 s / 60 s, so up to
    # the second 0x110 each of them came once (in the start-up burst)
    counts = {i: sum(1 for _, j, _ in battery if j == i) for i in ids}
    assert all(counts[i] == 1 for i in (0x150, 0x1D0, 0x210, 0x190))
    gap = intervals([t for t, _ in probe.of(0x110)])[0]
    assert 2.0 - 0.1 <= gap < 2.0 + 1.0  # never early; late only when the machine is busy
    assert vector["expected"]["periods_s"]["0x110"] == 2


async def test_byd_can_values_and_signs_through_the_real_source() -> None:
    for current in (-12.0, 8.0):
        cfg = channel()
        source = CanSource("b", can_codec("byd_can"), CanLink(cfg))
        await source.link.open()
        battery = pack(current)
        async with background(run_byd_can_battery("b", battery, CanLink(cfg), FAST)):
            sample = await eventually(source.sample, lambda s: "model" in s.extra)
            truth = battery.truth()
        await source.close()
        assert sample.current_a == pytest.approx(current)  # + = charging on BYD CAN too
        assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.06)  # 0.1 V on the wire
        assert sample.soc_pct == pytest.approx(70.0, abs=0.01)
        assert sample.capacity_ah == 50.0 and sample.charge_ah == pytest.approx(35.0, abs=0.1)
        assert sample.temperatures_c == truth.temperatures_c
        assert sample.extra["charge_voltage_limit"] == pytest.approx(32 * 3.55, abs=0.05)
        assert sample.extra["discharge_voltage_limit"] == pytest.approx(32 * 2.9, abs=0.05)
        assert sample.extra["charge_current_limit"] == 25.0  # 0.5 C
        assert sample.extra["discharge_current_limit"] == 50.0  # 1 C
        assert sample.extra["model"] == "Battery-Box Premium HVS"


async def test_byd_can_battery_goes_silent_after_stop_after() -> None:
    cfg = channel()
    source = CanSource("b", can_codec("byd_can"), CanLink(cfg), fresh_s=0.5)
    await source.link.open()
    device = run_byd_can_battery("b", pack(), CanLink(cfg), FAST)
    async with background(run_for(1.5, device)) as sim:
        await asyncio.sleep(1.0)  # longer than fresh_s: only fresh frames can answer now
        assert (await eventually(source.sample)).current_a == pytest.approx(-12.0)
        await wait_until(sim.done, timeout=3.0)
        await asyncio.sleep(0.6)  # the last frames age out
        with pytest.raises(NoData):
            await source.sample()
    await source.close()


# -- BYD Modbus --------------------------------------------------------------------------------


async def test_byd_modbus_wire_is_plus_discharging_and_the_source_turns_it() -> None:
    for current in (-12.0, 8.0):
        listen_at = f"127.0.0.1:{free_tcp_port()}"
        battery = pack(current)
        async with background(run_byd_modbus_battery("b", battery, listen_at)):
            raw = ModbusLink(listen_at, UNIT_ID)
            live = await eventually(partial(raw.read, *LIVE))  # the server may not be up yet
            raw.close()
            source = BydModbusSource("b", ModbusLink(listen_at, UNIT_ID))
            sample = await source.sample()
            await source.close()
        truth = battery.truth()
        regs = dict(zip(range(LIVE[0], LIVE[0] + LIVE[1]), live, strict=True))
        wire_w = to_s16(regs[311])
        assert wire_w == pytest.approx(-(truth.voltage_v or 0) * current, abs=2)
        assert (wire_w > 0) == (current < 0)  # BYD: + = discharging
        assert regs[300] == 3 and to_s16(regs[309]) == wire_w  # ACTIVE: outer power too
        assert regs[303] == 7000
        assert sample.current_a == pytest.approx(current, abs=0.05)  # batmux: + = charging
        assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.06)
        assert sample.soc_pct == 70.0
        volts = sample.voltage_v or 0
        assert sample.extra["max_charge_power_w"] == pytest.approx(25 * volts, abs=5)
        assert sample.extra["max_discharge_power_w"] == pytest.approx(50 * volts, abs=5)
        assert sample.extra["max_voltage"] == pytest.approx(32 * 3.55, abs=0.05)
        assert sample.extra["min_voltage"] == pytest.approx(32 * 2.9, abs=0.05)
        assert sample.extra["byd_state"] == "active"


async def test_byd_modbus_battery_stops_answering_after_stop_after() -> None:
    listen_at = f"127.0.0.1:{free_tcp_port()}"
    source = BydModbusSource("b", ModbusLink(listen_at, UNIT_ID, timeout_s=0.5))
    async with background(run_for(1.5, run_byd_modbus_battery("b", pack(), listen_at))) as sim:
        assert (await eventually(source.sample)).soc_pct == 70.0
        await wait_until(sim.done, timeout=3.0)
        with pytest.raises(BatmuxError):
            await source.sample()
    await source.close()
