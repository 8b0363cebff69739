"""BYD-CAN emulation on the virtual bus: silence, init bursts, periods, stale → 0 A, missing."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

from batmux.links.can_bus import CanLink
from batmux.protocols import byd_can
from batmux.protocols.candump import parse_line
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import BydCanInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig
from sinks.can_bus_helpers import (
    LIMITS,
    Recorder,
    background,
    channel,
    intervals,
    state,
    wait_until,
)

PERIODS = {"limits": 0.05, "states": 0.2, "info": 0.2, "temps": 0.2, "alarm": 0.4}
INIT_IDS = [0x250, 0x290, 0x2D0, 0x3D0, 0x3D0, 0x3D0, 0x3D0]


def battery_ids(rec: Recorder) -> list[int]:
    return [i for i in rec.ids() if i not in byd_can.INVERTER_IDS and i != 0x5BC]


def config(**kw: object) -> BydCanInverterConfig:
    base: dict[str, object] = dict(
        type="byd_can",
        battery="bank",
        can=channel(),
        periods=PERIODS,
        inverter_timeout=0.4,
        stale_after=0.3,
        on_inverter_silent="report",  # silence has its own tests
    )
    base.update(kw)
    return BydCanInverterConfig.model_validate(base)


async def test_silent_until_inverter_then_burst_on_first_frame_and_on_0x151() -> None:
    cfg = config()
    hub = StateHub()
    hub.publish([state()])
    sink = BydCanSink(cfg, hub)
    rec = Recorder(cfg.can)
    async with background(rec.run()), background(sink.run()):
        await asyncio.sleep(0.25)
        assert rec.frames == [] and sink.status()["state"] == "waiting_for_inverter"
        async with CanLink(cfg.can) as inverter:
            measure = byd_can.encode_inverter_measure(212.0, 0.0, 20.0)
            await inverter.send(byd_can.INV_MEASURE, measure)
            await wait_until(lambda: rec.ids().count(0x110) >= 2)
            assert battery_ids(rec)[:7] == INIT_IDS  # the burst comes first, then the schedule
            assert sink.init_bursts == 1
            await inverter.send(
                byd_can.INV_REQUEST, byd_can.encode_request(identify=False, name="GOODWE")
            )
            await asyncio.sleep(0.05)
            assert sink.init_bursts == 1 and sink.inverter_name == "GOODWE"
            await inverter.send(byd_can.INV_REQUEST, byd_can.encode_request(identify=True))
            await wait_until(lambda: sink.init_bursts == 2)
            await wait_until(lambda: rec.ids().count(0x250) == 2)
    status = sink.status()
    assert status["inverter_alive"] and status["state"] == "running"
    assert status["frames_sent"] >= 16 and status["errors"] == 0


async def test_periods_on_the_virtual_bus() -> None:
    cfg = config(stale_after=30)
    hub = StateHub()
    hub.publish([state()])
    sink = BydCanSink(cfg, hub)
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.1)
    async with background(sink.run()), running(inverter):
        await asyncio.sleep(0.9)
    for can_id, period in ((0x110, 0.05), (0x150, 0.2), (0x1D0, 0.2), (0x210, 0.2), (0x190, 0.4)):
        gaps = intervals(inverter.times(can_id))
        assert gaps, hex(can_id)
        assert abs(statistics.median(gaps) - period) < 0.015, (hex(can_id), gaps)
        assert max(gaps) < period + 0.06, (hex(can_id), gaps)
    sample = inverter.decode("byd_can")  # what the inverter saw, through the source codec
    assert sample.soc_pct == 60.0 and sample.voltage_v == 212.1  # type: ignore[attr-defined]
    assert sample.extra["charge_current_limit"] == 25.6  # type: ignore[attr-defined]


async def test_stale_gives_zero_amps_within_bound_then_recovers() -> None:
    cfg = config()
    hub = StateHub()
    hub.publish([state()])
    sink = BydCanSink(cfg, hub)
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.1)

    def last_limits() -> bytes:
        return inverter.frames(0x110)[-1].data if inverter.frames(0x110) else b""

    async with background(sink.run()), running(inverter):
        await wait_until(lambda: last_limits()[6:8] == (256).to_bytes(2, "big"))
        loop = asyncio.get_running_loop()
        t0 = loop.time()  # nobody publishes from here on: the state ages
        await wait_until(lambda: last_limits()[4:8] == bytes(4))
        took = loop.time() - t0
        assert took < cfg.stale_after + PERIODS["limits"] + 0.05, took
        assert last_limits()[:2] == (2336).to_bytes(2, "big")  # CVL kept
        assert sink.status()["battery_stale"] and sink.status()["limit_reason"] == "stale"
        hub.publish([state()])
        await wait_until(lambda: last_limits()[4:6] == (300).to_bytes(2, "big"))
        assert not sink.status()["battery_stale"]
        hub.publish([state(available=False)])
        await wait_until(lambda: last_limits()[4:8] == bytes(4), timeout=0.2)


async def test_deye_workaround_on_the_bus() -> None:
    cfg = config(deye_workaround=True)
    hub = StateHub()
    blocked = LIMITS.__class__(233.6, 0.0, 30.0, 160.0, reason="cell_high")
    hub.publish([state(limits=blocked)])
    sink = BydCanSink(cfg, hub)
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.1)
    async with background(sink.run()), running(inverter):
        await wait_until(lambda: bool(inverter.frames(0x150)))
    assert inverter.frames(0x150)[0].data[:2] == (10000).to_bytes(2, "big")  # SoC 100.00 %


async def test_inverter_missing_then_back() -> None:
    cfg = config()
    hub = StateHub()
    hub.publish([state()])
    sink = BydCanSink(cfg, hub)
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.1)
    async with background(sink.run()), running(inverter):
        await wait_until(lambda: sink.inverter_alive)
        inverter.silent = True
        await wait_until(lambda: sink.status()["state"] == "inverter_missing", timeout=1.0)
        assert not sink.status()["inverter_alive"]
        count = len(inverter.frames(0x110))
        await asyncio.sleep(0.15)
        assert len(inverter.frames(0x110)) > count  # keeps serving while missing
        inverter.silent = False
        await wait_until(lambda: sink.status()["inverter_alive"], timeout=1.0)
        assert sink.status()["state"] == "running" and sink.init_bursts == 2


async def test_other_devices_and_bad_inverter_frames_are_ignored() -> None:
    cfg = config()
    hub = StateHub()
    hub.publish([state()])
    sink = BydCanSink(cfg, hub)
    rec = Recorder(cfg.can)
    async with background(rec.run()), background(sink.run()), CanLink(cfg.can) as other:
        await asyncio.sleep(0.05)  # let the sink open its bus
        await other.send(0x5BC, bytes(8))  # an EV pack on the same bus: not the inverter
        await other.send(byd_can.INV_REQUEST, b"")  # malformed 0x151
        await asyncio.sleep(0.15)
        assert battery_ids(rec) == [] and sink.errors == 1


async def test_candump_log_written(tmp_path: Path) -> None:
    log = tmp_path / "byd.log"
    cfg = config(log=str(log))
    hub = StateHub()
    hub.publish([state()])
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.1)
    async with background(BydCanSink(cfg, hub).run()), running(inverter):
        await wait_until(lambda: len(inverter.frames(0x110)) >= 2)
    records = [parse_line(line) for line in log.read_text().splitlines()]
    ids = [r.arbitration_id for r in records]
    assert 0x151 in ids and 0x091 in ids  # received
    assert ids.count(0x250) == 1 and 0x110 in ids  # sent
    assert all(r.channel == cfg.can.channel and r.timestamp for r in records)
