"""Seconds to "unavailable" and to recovery when the host's BlueZ is missing, dies or restarts.

    uv run python bench/bench_bluez_recovery.py [--repeats 3] [--down 6]

A gateway with default BLE settings (sample period 1 s, the BlueZ-missing retry cap of 5 s)
reads one JK pack by MAC through bleak from a fake bluetoothd on a private dbus-daemon (the
tests' ``Host``), next to a simulated JBD pack that must never miss a beat. Scenarios:

absent       no system bus at start; after ``--down`` s the bus and bluetoothd start
bluetoothd   bluetoothd killed mid-run, started again after ``--down`` s
dbus         the dbus-daemon (and so bluetoothd) killed mid-run, both back after ``--down`` s
restart      ``systemctl restart bluetooth``: killed and started again at once

Per run: ``fail_s`` = kill → the BLE source's first failed sample (it knows BlueZ is gone);
``recover_s`` = BlueZ back → first good sample again; the simulated pack's longest gap between
good samples; and the number of "Bluetooth unavailable" log lines (one per cause). The
published ``available: false`` follows ``expire_after`` after the last good sample (60 s by
default), which is a setting, not something measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from batmux.config import parse_config
from batmux.runtime.app import BatteryRuntime, Gateway
from bluez_fixtures import Host, seconds_until

MAC = "C8:47:8C:00:00:01"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.unavailable = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Bluetooth unavailable"):
            self.unavailable += 1


async def watch_gaps(runtime: BatteryRuntime, gaps: list[float]) -> None:
    seen, last = runtime.health.samples, time.monotonic()
    while True:
        await asyncio.sleep(0.02)
        if runtime.health.samples != seen:
            now = time.monotonic()
            gaps.append(now - last)
            seen, last = runtime.health.samples, now


async def one_run(scenario: str, down_s: float, work: Path) -> dict[str, float]:
    host = Host(work / "bus", MAC)
    host.directory.mkdir()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = host.address
    config = parse_config(
        {
            "state_dir": str(work / "state"),
            "batteries": [
                {"name": "house", "type": "jk", "address": MAC},
                {"name": "shed", "type": "jbd", "sim": {"cells": 4}},
            ],
        },
        "bench.yaml",
    )
    gateway = Gateway(config)
    house, shed = gateway.batteries["house"], gateway.batteries["shed"]
    lines = Lines()
    logging.getLogger("batmux").addHandler(lines)
    gaps: list[float] = []
    result: dict[str, float] = {}
    task = asyncio.create_task(gateway.run())
    watcher = asyncio.create_task(watch_gaps(shed, gaps))
    try:
        if scenario != "absent":
            host.start_bus()
            await host.start_bluez()
            await seconds_until(lambda: house.health.samples >= 3, 30)
            errors = house.health.errors
            killed = time.monotonic()
            await host.kill_bluez()
            if scenario == "dbus":
                host.kill_bus()
            if scenario != "restart":
                await seconds_until(lambda: house.health.errors > errors, 30)
                result["fail_s"] = time.monotonic() - killed
                await asyncio.sleep(max(0.0, down_s - (time.monotonic() - killed)))
        else:
            await asyncio.sleep(down_s)
        if scenario in ("absent", "dbus"):
            host.start_bus()
        samples = house.health.samples
        await host.start_bluez()
        result["recover_s"] = await seconds_until(lambda: house.health.samples > samples, 60)
        result["shed_max_gap_s"] = max(gaps)
        result["log_lines"] = lines.unavailable
    finally:
        watcher.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        logging.getLogger("batmux").removeHandler(lines)
        await host.close()
    return result


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--down", type=float, default=6.0, help="seconds BlueZ stays away")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger().handlers[0].setLevel(logging.ERROR)  # count the warnings, don't print
    logging.getLogger("batmux").setLevel(logging.INFO)
    print("| scenario | fail_s | recover_s | shed max gap s | log lines | runs |")
    print("|---|---|---|---|---|---|")
    for scenario in ("absent", "bluetoothd", "dbus", "restart"):
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="batmux-bench-") as tmp:
                runs.append(await one_run(scenario, args.down, Path(tmp)))
        cols = [
            summary([r[k] for r in runs]) if k in runs[0] else "—"
            for k in ("fail_s", "recover_s", "shed_max_gap_s", "log_lines")
        ]
        print(f"| {scenario} | {' | '.join(cols)} | {len(runs)} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
