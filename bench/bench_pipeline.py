"""Whole-pipeline CPU cost per sample, the simulators' share of it, and RSS at start.

    uv run python bench/bench_pipeline.py [--batteries 100] [--seconds 30] [--warmup 8]

Three measurements, each in a fresh child process so none sees another's warm caches or heap:

gateway   ``--batteries`` simulated BLE batteries (a mix of registered families, ``address:
          sim``) sampled at 1 s, published every 1 s with Home Assistant discovery to a real
          broker: mosquitto on a free loopback port when installed, else batmux's embedded
          broker, run in its own process either way so its CPU is not counted. After a
          warm-up, CPU = ``time.process_time()`` delta of the gateway process (all threads),
          samples = delta of Σ ``health.samples``.
sims      the same simulated devices, driven with the same request bytes at the same rate,
          but notifications go to a trivial consumer (a byte counter): the simulators' own
          CPU (battery physics, encoders, MTU chunking, delivery tasks). The simulators run
          inside the gateway process, so gateway-only = gateway − sims.
rss       a fresh process with 8 batteries and MQTT: VmRSS after start (and ru_maxrss).

Loopback only; every loop is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from broker_process import (
    free_port,
    mosquitto_binary,
    start_embedded,
    start_mosquitto,
    stop,
    write_mosquitto_conf,
)

FAMILIES = ("jk", "jbd", "daly_modbus", "ant")


def battery_configs(count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        family = FAMILIES[i % len(FAMILIES)]
        sim: dict[str, Any] = {
            "cells": 16 if i % 3 else 8,
            "capacity_ah": 100 + 10 * (i % 10),
            "soc": 20 + (i * 7) % 70,
            "seed": i + 1,
            "load": {"kind": "sine", "amplitude": 10 + i % 20, "period": 120 + i},
        }
        out.append({"name": f"b{i:04d}_{family}", "type": family, "address": "sim", "sim": sim})
    return out


def gateway_config(count: int, mqtt_url: str | None, state_dir: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "sample_period": 1.0,
        "publish_period": 1.0,
        "expire_after": 30.0,
        "state_dir": state_dir,
        "batteries": battery_configs(count),
    }
    if mqtt_url:
        config["mqtt"] = {"url": mqtt_url, "discovery": True}
    return config


# -- broker ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def broker_process(kind: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """A broker in its own process on a free loopback port: mosquitto or the embedded one."""
    port = free_port()
    binary = mosquitto_binary() if kind in ("auto", "mosquitto") else None
    if kind == "mosquitto" and binary is None:
        raise SystemExit("mosquitto is not installed")
    if binary:
        proc = start_mosquitto(binary, write_mosquitto_conf(workdir, port), port)
        name = "mosquitto"
    else:
        proc = start_embedded(port)
        name = "embedded (batmux EmbeddedBroker, own process)"
    try:
        yield name, f"mqtt://127.0.0.1:{port}"
    finally:
        stop(proc)


# -- child: the gateway ---------------------------------------------------------------------------


def total_samples(gateway: Any) -> int:
    return sum(r.health.samples for r in gateway.batteries.values())


async def run_gateway(args: argparse.Namespace) -> dict[str, Any]:
    from batmux.cli import build_gateway
    from batmux.config import parse_config

    with tempfile.TemporaryDirectory(prefix="batmux-bench-") as state_dir:
        config = parse_config(gateway_config(args.batteries, args.url, state_dir), "<bench>")
        gateway = build_gateway(config)
        task = asyncio.create_task(gateway.run())
        try:
            await asyncio.sleep(args.warmup)
            cpu0, wall0, n0 = time.process_time(), time.perf_counter(), total_samples(gateway)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            await asyncio.sleep(args.seconds)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            cpu1, wall1, n1 = time.process_time(), time.perf_counter(), total_samples(gateway)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    samples = n1 - n0
    return {
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
        "samples": samples,
        "cpu_us_per_sample": (cpu1 - cpu0) / samples * 1e6 if samples else None,
    }


# -- child: the simulators alone ------------------------------------------------------------------


async def steady_requests(cfg: Any, config: Any) -> tuple[list[bytes], list[bytes]]:
    """(first-sample writes, steady per-sample writes) of one family, from two real samples."""
    from batmux.runtime.sources import build_source

    source: Any = build_source(cfg, config)
    try:
        await source.sample()
        first = list(source.driver.link.writes)
        await source.sample()
        steady = source.driver.link.writes[len(first) :]
    finally:
        await source.close()
    return first, steady


async def run_sims(args: argparse.Namespace) -> dict[str, Any]:
    from batmux.config import parse_config
    from batmux.runtime.sources import build_source

    with tempfile.TemporaryDirectory(prefix="batmux-bench-") as state_dir:
        config = parse_config(gateway_config(args.batteries, None, state_dir), "<bench>")
    requests: dict[str, tuple[list[bytes], list[bytes]]] = {}
    for cfg in config.batteries:
        if cfg.type not in requests:
            requests[cfg.type] = await steady_requests(cfg, config)

    received = [0]

    def consume(chunk: bytes) -> None:
        received[0] += len(chunk)

    links = []
    for cfg in config.batteries:
        link = build_source(cfg, config).driver.link  # type: ignore[attr-defined]
        await link.connect()
        await link.start_notify(link.device.notify_uuid, consume)
        links.append((link, cfg.type))

    async def drive(link: Any, family: str, until: float) -> None:
        first, steady = requests[family]
        for data in first:
            await link.write(link.device.write_uuid, data)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while loop.time() < until:
            next_at += config.sample_period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            for data in steady:
                await link.write(link.device.write_uuid, data)

    loop = asyncio.get_running_loop()
    start = loop.time()
    until = start + args.warmup + args.seconds
    tasks = [asyncio.create_task(drive(link, family, until)) for link, family in links]
    await asyncio.sleep(args.warmup)
    cpu0, bytes0 = time.process_time(), received[0]
    await asyncio.sleep(args.seconds)
    cpu1, bytes1 = time.process_time(), received[0]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for link, _ in links:
        await link.disconnect()
    # One sample per battery per period, as the gateway would take.
    samples = round(args.batteries * args.seconds / config.sample_period)
    return {
        "cpu_s": cpu1 - cpu0,
        "bytes": bytes1 - bytes0,
        "samples_equivalent": samples,
        "cpu_us_per_sample": (cpu1 - cpu0) / samples * 1e6,
    }


# -- child: RSS -----------------------------------------------------------------------------------


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_rss(args: argparse.Namespace) -> dict[str, Any]:
    before = vm_rss_kib()
    from batmux.cli import build_gateway
    from batmux.config import parse_config

    with tempfile.TemporaryDirectory(prefix="batmux-bench-") as state_dir:
        config = parse_config(gateway_config(args.batteries, args.url, state_dir), "<bench>")
        gateway = build_gateway(config)
        task = asyncio.create_task(gateway.run())
        try:
            await asyncio.sleep(args.seconds)
            rss = vm_rss_kib()
            samples = total_samples(gateway)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return {
        "rss_kib": rss,
        "rss_before_import_kib": before,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "samples": samples,
    }


# -- orchestration --------------------------------------------------------------------------------


def child(mode: str, **kwargs: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode]
    for key, value in kwargs.items():
        if value is not None:
            cmd += [f"--{key}", str(value)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batteries", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--broker", choices=("auto", "mosquitto", "embedded"), default="auto")
    parser.add_argument("--rss-batteries", type=int, default=8)
    parser.add_argument("--target", type=int, default=2000, help="batteries to project to")
    parser.add_argument("--child", choices=("gateway", "sims", "rss"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="cProfile the gateway child into this file")
    args = parser.parse_args()

    if args.child:
        runner = {"gateway": run_gateway, "sims": run_sims, "rss": run_rss}[args.child]
        print(json.dumps(asyncio.run(runner(args))))
        return

    load0 = os.getloadavg()
    with (
        tempfile.TemporaryDirectory() as tmp,
        broker_process(args.broker, Path(tmp)) as (
            broker,
            url,
        ),
    ):
        common = {"batteries": args.batteries, "seconds": args.seconds, "warmup": args.warmup}
        gw = child("gateway", url=url, profile=args.profile, **common)
        sims = child("sims", **common)
        rss = child("rss", url=url, batteries=args.rss_batteries, seconds=5, warmup=0)
    load1 = os.getloadavg()

    total_us = gw["cpu_us_per_sample"]
    sim_us = sims["cpu_us_per_sample"]
    gateway_us = total_us - sim_us
    rate = gw["samples"] / gw["wall_s"]
    print(f"broker: {broker} at {url}")
    print(f"load average before/after: {load0[0]:.2f} / {load1[0]:.2f} (1-min)")
    print(
        f"gateway: {args.batteries} batteries, {gw['samples']} samples in {gw['wall_s']:.1f} s "
        f"({rate:.1f}/s), CPU {gw['cpu_s']:.2f} s "
        f"({gw['cpu_s'] / gw['wall_s'] * 100:.0f} % of a core)"
    )
    print(f"  total CPU per sample        {total_us:8.1f} µs")
    print(f"  simulators alone per sample {sim_us:8.1f} µs ({sims['bytes']} bytes delivered)")
    print(f"  gateway only per sample     {gateway_us:8.1f} µs")
    for label, us in (("total", total_us), ("gateway only", gateway_us)):
        cores = us * args.target / 1e6
        print(f"  projected cores at {args.target} batteries @1 Hz ({label}): {cores:.2f}")
    print(
        f"RSS after {5} s with {args.rss_batteries} batteries: {rss['rss_kib'] / 1024:.1f} MiB "
        f"(maxrss {rss['maxrss_kib'] / 1024:.1f} MiB, before importing batmux "
        f"{rss['rss_before_import_kib'] / 1024:.1f} MiB, {rss['samples']} samples)"
    )


if __name__ == "__main__":
    main()
