"""``kill -9`` of ``batmux run`` at random moments, over and over, against mosquitto: every
state file always parses, and no published ``total_increasing`` meter is ever followed by a
lower one (Home Assistant would log it and may count a reset).

The default suite kills 3 times; the 30-kill run is ``-m soak`` (tests/faults/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from faults.fault_helpers import Watcher, kill9, report, start_batmux, stop, watching

METERS = ("total_charged_kwh", "total_discharged_kwh", "meter_cycles")


def config(url: str, state_dir: Path) -> dict[str, Any]:
    return {
        "mqtt": {"url": url, "discovery": False},
        "sample_period": 0.1,
        "publish_period": 0.3,
        "state_dir": str(state_dir),
        "batteries": [
            {"name": "charging", "type": "jbd", "sim": {"cells": 16, "current": 80.0}},
            {"name": "discharging", "type": "jbd", "sim": {"cells": 16, "current": -60.0}},
        ],
        "groups": [{"name": "bank", "members": ["charging", "discharging"]}],
    }


def states(w: Watcher, since: float = 0.0) -> list[tuple[float, str, dict[str, Any]]]:
    return [
        (t, topic.split("/")[1], json.loads(p))
        for t, topic, p in w.log
        if topic.endswith("/state") and p and t >= since
    ]


def assert_never_lower(w: Watcher) -> None:
    last: dict[tuple[str, str], float] = {}
    for _, name, state in states(w):
        for key in METERS:
            value = state[key]
            before = last.get((name, key), 0.0)
            assert value >= before, f"{name} {key} went back from {before} to {value}"
            last[name, key] = value


def assert_state_files_parse(state_dir: Path) -> int:
    files = [p for p in state_dir.rglob("*.json")]
    for path in files:
        json.loads(path.read_bytes())  # raises on a torn file
    return len(files)


async def kill_repeatedly(broker: Any, tmp_path: Path, kills: int) -> None:
    rng = random.Random(kills)
    state_dir = tmp_path / "state"
    cfg = config(broker.url, state_dir)
    to_safe: list[float] = []
    to_back: list[float] = []
    torn = 0  # the next start removes them
    async with watching(broker.port, ["batmux/+/state", "batmux/status"]) as w:
        for _ in range(kills):
            started = time.monotonic()
            proc = start_batmux(cfg, tmp_path, "run")
            try:
                # a state published by this process, and its totals moving
                back = await w.until(lambda s=started: len(states(w, s)) >= 3, 30)
                to_back.append(back - started)
                await asyncio.sleep(rng.uniform(0.0, 1.0))  # anywhere: mid-save, mid-publish
                killed = time.monotonic()
                kill9(proc)
            finally:
                stop(proc)
            safe = await w.until(
                lambda k=killed: any(
                    t >= k and topic == "batmux/status" and p == b"offline" for t, topic, p in w.log
                ),
                10,
            )
            to_safe.append(safe - killed)
            torn += len(list(state_dir.rglob("*.tmp")))  # a write the kill cut short
            assert_state_files_parse(state_dir)
            assert_never_lower(w)
        proc = start_batmux(cfg, tmp_path, "run")  # and once more: it resumes, higher
        try:
            resumed = time.monotonic()
            await w.until(lambda: len(states(w, resumed)) >= 3, 30)
        finally:
            stop(proc)
        assert_never_lower(w)
        final = {name: s for _, name, s in states(w)}
    assert final["charging"]["total_charged_kwh"] > 0
    assert final["discharging"]["total_discharged_kwh"] > 0
    files = assert_state_files_parse(state_dir)
    report(
        f"kill -9 of batmux run x{kills}",
        seconds_to_safe_state_max=round(max(to_safe), 2),
        safe_state="batmux/status offline (last will), every entity unavailable",
        seconds_restart_to_first_state_max=round(max(to_back), 2),
        state_files_checked=files,
        writes_cut_short=torn,
        lost="nothing published: totals never decreased",
    )


async def test_kill_9_three_times_meters_never_go_back(broker: Any, tmp_path: Path) -> None:
    await kill_repeatedly(broker, tmp_path, 3)


@pytest.mark.soak
async def test_kill_9_thirty_times_meters_never_go_back(broker: Any, tmp_path: Path) -> None:
    await kill_repeatedly(broker, tmp_path, 30)
