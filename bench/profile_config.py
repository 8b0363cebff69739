"""Where does the gateway's CPU go, for YOUR config? (attach the output to a "high CPU" report)

    uv run python bench/profile_config.py /etc/batmux/batmux.yaml [--seconds 60] [--warmup 10]
        [--top 25] [--no-profile] [--pstats FILE]

It builds and runs the gateway exactly as ``batmux run`` does (same config, same sinks, real
hardware if the config names it), lets it warm up, then measures for ``--seconds``:

- process CPU (``time.process_time``, all threads) per second and per battery-sample;
- resident memory (VmRSS) after the warm-up, and how many modules are loaded;
- under cProfile (unless ``--no-profile``): CPU by component (codecs, BLE/serial links, the
  bank engine, MQTT, Venus D-Bus, simulators, asyncio itself …, from each function's own time)
  and the top functions.

cProfile slows Python code by roughly 1.5–2×, so take the CPU figures from a ``--no-profile``
run and the shares from a profiled one. Stop a running ``batmux run`` first: two gateways
would fight over the same BLE devices and MQTT topics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# (path fragment, component): the first fragment found in a function's file names it.
COMPONENTS = (
    ("batmux/protocols/", "codecs (decode, checksums)"),
    ("batmux/devices/", "device drivers and sources"),
    ("batmux/links/", "batmux links (BLE, serial, CAN, D-Bus, Modbus)"),
    ("batmux/core/", "bank engine, limits, meters"),
    ("batmux/model/", "samples and states"),
    ("batmux/sinks/venus", "Venus D-Bus service"),
    ("batmux/sinks/", "MQTT / discovery / inverter outputs"),
    ("batmux/sim/", "simulators (address: sim only)"),
    ("batmux/runtime/", "gateway loops and wiring"),
    ("batmux/", "batmux (other)"),
    ("/aiomqtt/", "MQTT client (aiomqtt/paho)"),
    ("/paho/", "MQTT client (aiomqtt/paho)"),
    ("/dbus_fast/", "D-Bus (dbus-fast: BlueZ, Venus)"),
    ("/bleak", "BLE stack (bleak)"),
    ("/pymodbus/", "Modbus (pymodbus)"),
    ("/can/", "CAN (python-can)"),
    ("/serial", "serial (pyserial)"),
    ("/asyncio/", "asyncio event loop"),
    ("/json/", "JSON"),
    ("/logging/", "logging"),
)


def component(filename: str) -> str:
    name = filename.replace("\\", "/")
    for fragment, label in COMPONENTS:
        if fragment in name:
            return label
    if name.startswith("~") or name.startswith("<"):
        return "builtins (C functions: struct, sum, socket sends…)"
    return "other Python"


def rss_mib() -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def samples(gateway: Any) -> int:
    return sum(rt.health.samples for rt in gateway.batteries.values())


async def measure(gateway: Any, warmup: float, seconds: float, profiler: Any) -> dict[str, Any]:
    task = asyncio.create_task(gateway.run())
    await asyncio.sleep(warmup)
    if task.done():  # a config error or a crash: show it
        task.result()
    out: dict[str, Any] = {"rss_mib": rss_mib(), "modules": len(sys.modules)}
    n0, cpu0, wall0 = samples(gateway), time.process_time(), time.monotonic()
    if profiler is not None:
        profiler.enable()
    await asyncio.sleep(seconds)
    if profiler is not None:
        profiler.disable()
    out["cpu_s"] = time.process_time() - cpu0
    out["wall_s"] = time.monotonic() - wall0
    out["samples"] = samples(gateway) - n0
    out["rss_end_mib"] = rss_mib()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return out


def by_component(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        totals[component(filename)] += tottime
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="your batmux.yaml")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--no-profile", action="store_true", help="CPU and RSS only")
    parser.add_argument("--pstats", help="also save the raw profile (for snakeviz etc.)")
    args = parser.parse_args()

    from batmux.cli import _load_for_run, build_gateway

    config = _load_for_run(args.config)  # as `run` loads it: validated in a child process
    if isinstance(config, int):
        return config
    gateway = build_gateway(config)
    # CPU time, not wall time: waiting in epoll for the next notification costs nothing
    profiler = None if args.no_profile else cProfile.Profile(time.process_time)
    result = asyncio.run(measure(gateway, args.warmup, args.seconds, profiler))

    cpu, wall, n = result["cpu_s"], result["wall_s"], result["samples"]
    print(f"config: {args.config}: {len(gateway.batteries)} batteries, ", end="")
    print(f"sample_period {config.sample_period} s, publish_period {config.publish_period} s")
    print(f"measured {wall:.1f} s after {args.warmup:g} s warm-up", end="")
    print(" (under cProfile: CPU inflated)" if profiler else " (no profiler)")
    print(f"process CPU: {cpu:.2f} s = {100 * cpu / wall:.1f} % of one core")
    if n:
        print(f"battery-samples: {n} ({n / wall:.1f}/s), {1e6 * cpu / n:.0f} µs CPU per sample")
    else:
        print("battery-samples: 0 (no battery answered: check the log above)")
    print(
        f"RSS after warm-up: {result['rss_mib']:.1f} MiB, "
        f"at the end: {result['rss_end_mib']:.1f} MiB"
    )
    print(f"modules loaded: {result['modules']}")
    if profiler is None:
        return 0
    stats = pstats.Stats(profiler)
    total = sum(by_component(stats).values()) or 1.0
    print("\nCPU by component (own time of each function, share of the profiled total):")
    for label, seconds in by_component(stats).items():
        print(f"  {100 * seconds / total:5.1f} %  {seconds:7.3f} s  {label}")
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    if args.pstats:
        stats.dump_stats(args.pstats)
        print(f"raw profile: {args.pstats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
