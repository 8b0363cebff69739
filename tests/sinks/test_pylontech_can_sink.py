"""Pylontech emulation on the virtual bus: 1 s cycle, 0x305 alive, CVL never 0, stale → 0 A."""

from __future__ import annotations

import asyncio
import statistics

from batmux.links.can_bus import CanLink
from batmux.model.limits import ChargeLimits
from batmux.protocols import pylontech_can as pylon
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import PylontechInverterSim, running
from batmux.sinks.can_inverter_config import PylontechCanInverterConfig
from batmux.sinks.pylontech_can import PylontechCanSink
from sinks.can_bus_helpers import Recorder, background, channel, intervals, state, wait_until

LV = ChargeLimits(55.2, 100.0, 120.0, 46.0)


def config(**kw: object) -> PylontechCanInverterConfig:
    base: dict[str, object] = dict(
        type="pylontech_can",
        battery="bank",
        can=channel(),
        period=0.05,
        inverter_timeout=0.3,
        stale_after=30,
        on_inverter_silent="report",  # silence has its own tests
    )
    base.update(kw)
    return PylontechCanInverterConfig.model_validate(base)


def lv_state(**kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = dict(limits=LV, voltage_v=52.4, current_a=12.5, soc_pct=71.0)
    values.update(kw)
    return state(**values)  # type: ignore[arg-type]


async def test_cycle_period_and_alive() -> None:
    cfg = config(victron_extras=True)
    hub = StateHub()
    hub.publish([lv_state()])
    sink = PylontechCanSink(cfg, hub)
    inverter = PylontechInverterSim(CanLink(cfg.can), period_s=0.05)
    async with background(sink.run()):
        await asyncio.sleep(0.12)
        assert sink.status()["state"] == "waiting_for_inverter"  # sending, nobody answered yet
        async with running(inverter):
            await wait_until(lambda: sink.inverter_alive)
            await asyncio.sleep(0.5)
    gaps = intervals(inverter.times(pylon.ID_LIMITS))
    assert abs(statistics.median(gaps) - 0.05) < 0.01 and max(gaps) < 0.09, gaps
    ids = [r.can_id for r in inverter.received[:9]]
    assert ids == [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E, 0x370, 0x371, 0x372]
    sample = inverter.decode("pylontech_can")
    assert sample.voltage_v == 52.4 and sample.current_a == 12.5  # type: ignore[attr-defined]
    assert sample.extra["charge_voltage_limit"] == 55.2  # type: ignore[attr-defined]
    assert sink.status()["state"] == "running" and sink.status()["cycles"] >= 10


async def test_inverter_missing_after_silence() -> None:
    cfg = config()
    hub = StateHub()
    hub.publish([lv_state()])
    sink = PylontechCanSink(cfg, hub)
    inverter = PylontechInverterSim(CanLink(cfg.can), period_s=0.05, counting=True)
    async with background(sink.run()), running(inverter):
        await wait_until(lambda: sink.inverter_alive)
        inverter.silent = True
        await wait_until(lambda: sink.status()["state"] == "inverter_missing", timeout=1.0)
        cycles = sink.cycles
        await asyncio.sleep(0.1)
        assert sink.cycles > cycles  # a Pylontech keeps broadcasting
        inverter.silent = False
        await wait_until(lambda: sink.status()["state"] == "running", timeout=1.0)


async def test_never_cvl_zero() -> None:
    cfg = config()
    hub = StateHub()
    sink = PylontechCanSink(cfg, hub)
    rec = Recorder(cfg.can)
    async with background(rec.run()), background(sink.run()):
        await asyncio.sleep(0.15)
        assert rec.frames == [] and sink.status()["state"] == "no_battery_data"
        hub.publish([lv_state(limits=ChargeLimits(0.0, 50.0, 50.0, 46.0))])  # a bad CVL
        await asyncio.sleep(0.15)
        assert rec.frames == []
        hub.publish([lv_state()])
        await wait_until(lambda: bool(rec.of(0x351)))
        hub.publish([lv_state(limits=ChargeLimits(0.0, 50.0, 50.0, 46.0))])
        await asyncio.sleep(0.15)
    cvls = {d[:2] for _, d in rec.of(0x351)}
    assert cvls == {(552).to_bytes(2, "little")}  # the last good CVL, never 0


async def test_safe_charge_voltage_before_first_limits() -> None:
    cfg = config(charge_voltage=53.0)
    hub = StateHub()
    hub.publish([lv_state(limits=None)])
    rec = Recorder(cfg.can)
    async with background(rec.run()), background(PylontechCanSink(cfg, hub).run()):
        await wait_until(lambda: bool(rec.of(0x351)))
    first = rec.of(0x351)[0][1]
    assert first[:2] == (530).to_bytes(2, "little") and first[2:6] == bytes(4)


async def test_stale_zero_amps_then_recovery() -> None:
    cfg = config(stale_after=0.2, fallback="soc_window")
    hub = StateHub()
    hub.publish([lv_state()])
    rec = Recorder(cfg.can)
    sink = PylontechCanSink(cfg, hub)

    def last(can_id: int) -> bytes:
        got = rec.of(can_id)
        return got[-1][1] if got else b""

    async with background(rec.run()), background(sink.run()):
        await wait_until(lambda: last(0x351)[2:4] == (1000).to_bytes(2, "little"))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await wait_until(lambda: last(0x351)[2:6] == bytes(4))
        assert loop.time() - t0 < 0.2 + 0.05 + 0.05
        await wait_until(lambda: last(0x355)[:2] == (100).to_bytes(2, "little"))  # SoC window
        assert last(0x35C) == b"\x00\x00"
        hub.publish([lv_state()])
        await wait_until(lambda: last(0x351)[4:6] == (1200).to_bytes(2, "little"))
        await wait_until(lambda: last(0x355)[:2] == (71).to_bytes(2, "little"))
        assert last(0x35C) == b"\xc0\x00"
