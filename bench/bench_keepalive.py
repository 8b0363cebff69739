"""Tesla 0x221 keep-alive period jitter with a full gateway running.

    uv run python bench/bench_keepalive.py [--seconds 20] [--periods 10,30,50,100] [--no-presence]

A gateway (sampling every 0.1 s, publishing every 0.2 s, the bank engine wired) closes a
simulated Tesla pack's contactors on python-can's virtual bus (``close_on_start``); the pack
simulator runs in the same process and event loop. Per period: the send times of the 0x221
pairs while closed, jitter = |interval − period| in ms, p50/p99/max. The vehicle-presence
frames (their own 10 ms task) run alongside unless ``--no-presence``. Reported in
docs/performance-can.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from itertools import pairwise

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire


def gateway(state_dir: str, presence: bool = True) -> Gateway:
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "sim": {"cells": 108}}
    contactors = {"close_on_start": True, "presence_frames": presence}
    battery |= {"allow_control": True, "contactors": contactors}
    config = parse_config(
        {"sample_period": 0.1, "publish_period": 0.2, "state_dir": state_dir,
         "batteries": [battery]}
    )  # fmt: skip
    g = Gateway(config)
    wire(g)
    return g


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def measure(period_s: float, seconds: float, presence: bool = True) -> str:
    g = gateway(tempfile.mkdtemp(), presence)
    control = g.batteries["tesla"].source
    control.period_s = period_s
    task = asyncio.create_task(g.run())
    try:
        end = time.monotonic() + 20
        while control.machine.state.value != "closed":
            if time.monotonic() > end:
                return f"{period_s * 1000:g} ms: did not close"
            await asyncio.sleep(0.05)
        control.send_times.clear()
        await asyncio.sleep(seconds)
        times = list(control.send_times)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    jitter = sorted(abs((b - a) - period_s) * 1000 for a, b in pairwise(times))
    label = f"{period_s * 1000:g} ms" + ("" if presence else " (no presence)")
    return (
        f"{label}: n={len(jitter)} p50={quantile(jitter, 0.5):.2f} ms "
        f"p99={quantile(jitter, 0.99):.2f} ms max={jitter[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--periods", default="10,30,50,100")
    parser.add_argument("--no-presence", action="store_true", help="0x221 only")
    args = parser.parse_args()
    for ms in (float(p) for p in args.periods.split(",")):
        print(asyncio.run(measure(ms / 1000, args.seconds, not args.no_presence)), flush=True)


if __name__ == "__main__":
    main()
