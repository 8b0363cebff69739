"""CAN period jitter on the python-can ``virtual`` bus.

    uv run python bench/bench_can.py [--seconds 10] [--period 0.1]

Runs the Pylontech sink (all frames every ``period``) and the BYD-CAN sink (0x110 every
``period``, the rest shrunk proportionally) against simulated inverters and measures, at the
inverter, the interval between consecutive 0x351 / 0x110 frames. Jitter = |interval - period|.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import time
import uuid

from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import BydCanInverterSim, PylontechInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.pylontech_can import PylontechCanSink


def hub_with_state() -> StateHub:
    hub = StateHub()
    now = time.time()
    sample = BatterySample(
        timestamp=now,
        voltage_v=52.4,
        current_a=5.0,
        soc_pct=70.0,
        temperatures_c=(20.0,),
        cell_voltages_v=(3.3,) * 16,
    )
    hub.publish(
        [
            BatteryState(
                "bank", True, sample, limits=ChargeLimits(55.2, 100, 100, 46.0), last_good_at=now
            )
        ]
    )
    return hub


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, times: list[float], period: float) -> dict[str, float]:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    jitter = [abs(g - period) * 1000 for g in gaps]
    out = {
        "frames": len(times),
        "mean_ms": statistics.mean(gaps) * 1000,
        "p50_ms": quantile(jitter, 0.5),
        "p99_ms": quantile(jitter, 0.99),
        "max_ms": max(jitter),
    }
    print(
        f"{name:<34} n={out['frames']:<5} mean interval {out['mean_ms']:8.2f} ms   "
        f"jitter p50 {out['p50_ms']:.3f} ms  p99 {out['p99_ms']:.3f} ms  max {out['max_ms']:.3f} ms"
    )
    return out


async def bench_pylontech(seconds: float, period: float) -> None:
    can_cfg = CanBusConfig(interface="virtual", channel=f"bench-{uuid.uuid4().hex[:6]}")
    cfg = PylontechCanInverterConfig(
        type="pylontech_can",
        battery="bank",
        can=can_cfg,
        period=period,
        victron_extras=True,
        stale_after=3600,
    )
    sink = PylontechCanSink(cfg, hub_with_state())
    inverter = PylontechInverterSim(CanLink(can_cfg), period_s=1.0)
    task = asyncio.create_task(sink.run())
    try:
        async with running(inverter):
            await asyncio.sleep(seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    report(f"pylontech_can 0x351 @ {period * 1000:g} ms (rx)", inverter.times(0x351), period)
    report(f"pylontech_can cycle @ {period * 1000:g} ms (tx)", sink.cycle_times, period)


async def bench_byd(seconds: float, period: float) -> None:
    can_cfg = CanBusConfig(interface="virtual", channel=f"bench-{uuid.uuid4().hex[:6]}")
    scale = period / 2.0
    periods = {
        "limits": period,
        "states": 10 * scale,
        "info": 10 * scale,
        "temps": 10 * scale,
        "alarm": 60 * scale,
    }
    cfg = BydCanInverterConfig(
        type="byd_can", battery="bank", can=can_cfg, periods=periods, stale_after=3600
    )
    sink = BydCanSink(cfg, hub_with_state())
    inverter = BydCanInverterSim(CanLink(can_cfg), period_s=0.5)
    task = asyncio.create_task(sink.run())
    try:
        await asyncio.sleep(0.05)
        async with running(inverter):
            await asyncio.sleep(seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    report(f"byd_can 0x110 @ {period * 1000:g} ms (rx)", inverter.times(0x110), period)
    report(
        f"byd_can 0x110 @ {period * 1000:g} ms (tx)",
        [t for t, i in sink.send_log if i == 0x110],
        period,
    )
    report(f"byd_can 0x150 @ {10 * scale * 1000:g} ms (rx)", inverter.times(0x150), 10 * scale)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--period", type=float, default=0.1)
    args = parser.parse_args()
    await bench_pylontech(args.seconds, args.period)
    await bench_byd(args.seconds, args.period)
    await bench_pylontech(args.seconds, 1.0)


if __name__ == "__main__":
    asyncio.run(main())
