"""The SQLite history: rounds in, full resolution then min/mean/max buckets, retention.

Time is passed in explicitly (the gateway's injected clock upstream), so days pass in a test.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.sinks.history import FLUSH_EVERY_S
from batmux.sinks.history_store import CACHE_KIB, HistoryStore, state_row

DAY = 86400.0
DAY_ROWS = 86400 // 4  # a day of one battery at a 4 s publish period


def state(name: str, soc: float, current: float = 2.0, available: bool = True) -> BatteryState:
    sample = BatterySample(
        timestamp=0.0,
        voltage_v=53.0,
        current_a=current,
        soc_pct=soc,
        cell_voltages_v=(3.30, 3.32, 3.35),
        temperatures_c=(21.0, 24.5),
    )
    return BatteryState(name=name, available=available, sample=sample)


def store(tmp_path: Path, **kw: float) -> HistoryStore:
    return HistoryStore(tmp_path / "h.sqlite", **kw)  # type: ignore[arg-type]


def test_a_row_carries_the_published_values() -> None:
    row = state_row(state("a", 61.5), 1000.0)
    assert row == ("a", 1000.0, 1, 61.5, 53.0, 2.0, 106.0, 3.30, 3.35, 0.05, 24.5)
    assert state_row(BatteryState(name="b", available=False, sample=None), 1.0) is None


def test_rounds_read_back_at_full_resolution(tmp_path: Path) -> None:
    db = store(tmp_path)
    for i in range(5):
        db.write_round(
            [state_row(state("a", 50 + i), 1000.0 + i), state_row(state("b", 10), 1000.0 + i)]
        )  # type: ignore[list-item]
    points = db.query("a", 1000.0, 1004.0, ["soc", "power"])
    assert [p["soc"] for p in points] == [50, 51, 52, 53, 54]
    assert all(p["power"] == 106.0 and p["n"] == 1 for p in points)
    assert db.query("a", 1001.5, 1003.0, ["soc"])[0]["soc"] == 52
    assert db.batteries() == ["a", "b"]
    assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_old_rows_become_min_mean_max_buckets(tmp_path: Path) -> None:
    db = store(tmp_path, full_resolution_s=3600, bucket_s=300, retention_s=7 * DAY)
    t0 = 100 * DAY  # a bucket boundary
    for i in range(10):  # two buckets of 5 rows, 60 s apart; SoC 0..9, current alternating
        db.write_round([state_row(state("a", float(i), current=(-1) ** i * 4.0), t0 + 60 * i)])  # type: ignore[list-item]
    db.maintain(t0 + 600 + 1800)  # still inside the full-resolution window: nothing changes
    assert db.count() == (10, 0)
    db.maintain(t0 + 600 + 3600)
    assert db.count() == (0, 2)
    first, second = db.query("a", 0, t0 + DAY, ["soc", "current"])
    assert (first["t"], first["n"]) == (t0, 5)
    assert (first["soc_min"], first["soc"], first["soc_max"]) == (0, 2, 4)
    assert (second["soc_min"], second["soc"], second["soc_max"]) == (5, 7, 9)
    assert (first["current_min"], first["current_max"]) == (-4.0, 4.0)
    assert first["current"] == pytest.approx(0.8)  # (4 - 4 + 4 - 4 + 4) / 5
    # new rows stay at full resolution next to the buckets, in time order
    db.write_round([state_row(state("a", 42.0), t0 + 600 + 3600)])  # type: ignore[list-item]
    points = db.query("a", 0, t0 + DAY, ["soc"])
    assert [p["soc"] for p in points] == [2, 7, 42.0]


def test_a_partial_bucket_waits_until_it_is_whole(tmp_path: Path) -> None:
    db = store(tmp_path, full_resolution_s=3600, bucket_s=300, retention_s=7 * DAY)
    t0 = 100 * DAY
    for i in range(10):
        db.write_round([state_row(state("a", float(i)), t0 + 60 * i)])  # type: ignore[list-item]
    db.maintain(t0 + 3600 + 400)  # cutoff t0 + 300: only the first bucket is whole
    assert db.count() == (5, 1)
    db.maintain(t0 + 3600 + 700)
    assert db.count() == (0, 2)
    assert [p["soc"] for p in db.query("a", 0, t0 + DAY, ["soc"])] == [2, 7]


def test_retention_drops_everything_older(tmp_path: Path) -> None:
    db = store(tmp_path, full_resolution_s=3600, bucket_s=300, retention_s=2 * DAY)
    t0 = 100 * DAY
    for day in range(4):
        db.write_round([state_row(state("a", float(day)), t0 + day * DAY)])  # type: ignore[list-item]
    db.maintain(t0 + 3 * DAY + 10)
    points = db.query("a", 0, t0 + 10 * DAY, ["soc"])
    assert [p["soc"] for p in points] == [2.0, 3.0]  # day 0 and 1 are beyond 2 days
    assert [p["n"] for p in points] == [1, 1]  # day 2 rolled up (one row), day 3 raw


def test_a_failed_round_leaves_no_partial_rows(tmp_path: Path) -> None:
    db = store(tmp_path)
    good = state_row(state("a", 1.0), 1.0)
    with pytest.raises(sqlite3.Error):
        db.write_round([good, ("a", 2.0)])  # type: ignore[list-item]  # wrong arity
    assert db.count() == (0, 0)
    db.write_round([good])  # type: ignore[list-item]
    assert db.count() == (1, 0)


async def test_a_store_that_cannot_open_is_counted_not_fatal(tmp_path: Path) -> None:
    from batmux.sinks.history import HistoryWriter

    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the store's directory should be
    writer = HistoryWriter(lambda: HistoryStore(blocker / "h.sqlite"))
    row = state_row(state("a", 1.0), 1.0)
    await writer.write([row], 1.0)  # type: ignore[list-item]
    await writer.write([row], 1.0 + FLUSH_EVERY_S)  # type: ignore[list-item]
    assert writer.status()["errors"] == 2 and writer.status()["rounds"] == 0
    writer.close()


async def test_rounds_are_gathered_and_a_query_sees_them(tmp_path: Path) -> None:
    """Rows are written every FLUSH_EVERY_S (the first round at once); a query writes the
    gathered ones first, and a stop writes them before closing the store."""
    from batmux.sinks.history import HistoryWriter

    path = tmp_path / "h.sqlite"
    writer = HistoryWriter(lambda: HistoryStore(path))
    for t in (100.0, 101.0, 102.0):
        await writer.write([state_row(state("a", 50.0), t)], t)  # type: ignore[list-item]
    assert writer.status()["rounds"] == 1  # the first round at once, two gathered
    assert HistoryStore(path).count() == (1, 0)
    rows = await writer.query("a", 99.0, 103.0, ("voltage",))
    assert [r["t"] for r in rows] == [100.0, 101.0, 102.0] and writer.status()["rounds"] == 3
    await writer.write([state_row(state("a", 50.0), 103.0)], 103.0)  # type: ignore[list-item]
    executor = writer.executor
    writer.close()
    executor.shutdown(wait=True)
    assert HistoryStore(path).count() == (4, 0)


def test_the_page_cache_is_capped_and_a_day_still_reads_back(tmp_path: Path) -> None:
    """SQLite's default page cache (~2 MiB) would stay resident on a Pi Zero; capped, a full
    day of rows still goes in and comes back whole."""
    db = store(tmp_path)
    assert db.db.execute("PRAGMA cache_size").fetchone() == (-CACHE_KIB,)
    rows = [state_row(state("a", 50 + (i % 40)), 1000.0 + i) for i in range(DAY_ROWS)]
    for first in range(0, DAY_ROWS, 600):
        db.write_round(rows[first : first + 600])  # type: ignore[arg-type]
    points = db.query("a", 1000.0, 1000.0 + DAY_ROWS, ["soc"])
    assert len(points) == DAY_ROWS
    assert [p["soc"] for p in points[:3]] == [50, 51, 52]
    # the pages the cap evicted are read back from the file, not lost
    assert points[-1]["soc"] == 50 + ((DAY_ROWS - 1) % 40)
