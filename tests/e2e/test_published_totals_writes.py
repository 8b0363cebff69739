"""The published-totals file is written only when a published total changes (issue 17): the
first publish after start and every publish while no current flows need no write and wait for
no fsync; a changed total is still on disk before it is published."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.runtime.app import Gateway


def config(state_dir: Path, current: float) -> Any:
    return parse_config(
        {
            "state_dir": str(state_dir),
            "batteries": [{"name": "b", "type": "jbd", "sim": {"cells": 4, "current": current}}],
        },
        "test.yaml",
    )


def totals(state_dir: Path) -> Path:
    return state_dir / "meters" / "published.totals.json"


async def test_unchanged_totals_are_not_written_again(tmp_path: Path) -> None:
    gateway = Gateway(config(tmp_path, current=0.0))
    runtime = gateway.batteries["b"]
    assert await gateway.sample_once(runtime)
    await gateway.persist_meters()  # the first publish: the totals a restart would load
    assert not totals(tmp_path).exists()
    assert await gateway.sample_once(runtime)
    await gateway.persist_meters()  # no current: nothing changed, nothing written
    assert not totals(tmp_path).exists()

    runtime.meters.charged_wh += 1.5  # a total changes: on disk before it is published
    await gateway.persist_meters()
    on_disk = json.loads(totals(tmp_path).read_text())["meters"]["b"]
    assert on_disk[0] == runtime.meters.charged_wh == 1.5
    assert runtime.saved_meters.charged_kwh == 0.0015
    before = totals(tmp_path).stat().st_mtime_ns
    await asyncio.sleep(0.01)
    await gateway.persist_meters()  # the same totals again: no second write
    assert totals(tmp_path).stat().st_mtime_ns == before


async def test_a_restart_loads_what_was_skipped(tmp_path: Path) -> None:
    (tmp_path / "meters").mkdir()
    totals(tmp_path).write_text(json.dumps({"version": 1, "meters": {"b": [7.0, 3.0, 12.0]}}))
    gateway = Gateway(config(tmp_path, current=0.0))
    runtime = gateway.batteries["b"]
    before = totals(tmp_path).read_text()
    await gateway.persist_meters()  # publishes the loaded totals: they are already on disk
    assert totals(tmp_path).read_text() == before
    assert runtime.saved_meters.charged_kwh == 0.007
    assert Gateway(config(tmp_path, current=0.0)).batteries["b"].meters.charged_wh == 7.0


async def test_totals_move_on_at_most_every_totals_period(tmp_path: Path) -> None:
    """Published totals are written (and so move on) at most every ``TOTALS_PERIOD_S``: in
    between, the totals last written are published again, so what is published is always on
    disk, with one write per period instead of one per publish."""
    from batmux.runtime.app import TOTALS_PERIOD_S

    gateway = Gateway(config(tmp_path, current=0.0))
    runtime = gateway.batteries["b"]
    assert await gateway.sample_once(runtime)
    runtime.meters.charged_wh = 1.0
    await gateway.persist_meters(100.0)
    assert json.loads(totals(tmp_path).read_text())["meters"]["b"][0] == 1.0
    runtime.meters.charged_wh = 2.0
    await gateway.persist_meters(100.0 + TOTALS_PERIOD_S - 0.5)  # too soon: not written
    assert json.loads(totals(tmp_path).read_text())["meters"]["b"][0] == 1.0
    assert runtime.saved_meters.charged_kwh == 0.001  # what is published: what is on disk
    await gateway.persist_meters(100.0 + TOTALS_PERIOD_S)
    assert json.loads(totals(tmp_path).read_text())["meters"]["b"][0] == 2.0
    assert runtime.saved_meters.charged_kwh == 0.002
