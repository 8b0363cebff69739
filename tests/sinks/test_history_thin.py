"""``HistoryStore.query_thinned``: a long span comes back as at most about ``points`` points,
each the min / weighted mean / max of its time slot, over full-resolution and rolled-up rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.sinks.history_store import VALUES, HistoryStore

DAY = 86400.0


def row(t: float, soc: float | None, online: int = 1) -> tuple[object, ...]:
    values = dict.fromkeys(VALUES, 1.0) | {"soc": soc}
    return ("a", t, online, *(values[v] for v in VALUES))


def test_a_span_with_few_rows_comes_back_whole(tmp_path: Path) -> None:
    db = HistoryStore(tmp_path / "h.sqlite")
    db.write_round([row(1000.0 + i, float(i)) for i in range(10)])
    assert db.query_thinned("a", 0, 2000, ["soc"], 50) == db.query("a", 0, 2000, ["soc"])


def test_a_week_at_1_hz_becomes_a_few_hundred_points_keeping_extremes(tmp_path: Path) -> None:
    db = HistoryStore(tmp_path / "h.sqlite")
    t0 = 1_000_000.0
    rows = [row(t0 + i, 50.0 + (i % 10)) for i in range(20_000)]
    rows[12_345] = row(t0 + 12_345, 99.0)  # a one-second spike
    rows[777] = row(t0 + 777, None, online=0)  # an unknown value is not a zero
    db.write_round(rows)
    points = db.query_thinned("a", t0, t0 + 20_000, ["soc"], 200)
    assert 190 <= len(points) <= 201
    assert sum(p["n"] for p in points) == 20_000
    assert max(p["soc_max"] for p in points) == 99.0
    assert min(p["soc_min"] for p in points) == 50.0
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
    quiet = points[50]
    assert quiet["soc"] == pytest.approx(54.5)  # the mean of 50..59
    first = points[7]  # holds t0+700..t0+799 including the unknown one
    assert first["online"] == pytest.approx(99 / 100)
    assert first["soc"] == pytest.approx(
        sum(50 + (i % 10) for i in range(700, 800) if i != 777) / 99
    )


def test_rolled_up_buckets_are_weighted_by_their_rounds(tmp_path: Path) -> None:
    db = HistoryStore(tmp_path / "h.sqlite", full_resolution_s=DAY, bucket_s=300)
    t0 = 10 * DAY
    db.write_round([row(t0 + i * 10, 40.0) for i in range(60)])  # 600 s rolled up below
    db.write_round([row(t0 + DAY + 1200 + i, 80.0) for i in range(30)])  # kept as published
    db.maintain(t0 + 2 * DAY)
    full, rolled = db.count()
    assert rolled == 2 and full == 30
    points = db.query_thinned("a", t0, t0 + 2 * DAY, ["soc"], 2)
    assert len(points) == 2
    old, new = points
    assert old["n"] == 60 and old["soc"] == 40.0
    assert new["n"] == 30 and new["soc"] == 80.0 and new["soc_max"] == 80.0
    mixed = db.query_thinned("a", t0, t0 + 2 * DAY, ["soc"], 1)
    total = sum(p["n"] for p in mixed)
    mean = sum(p["soc"] * p["n"] for p in mixed) / total
    assert total == 90 and mean == pytest.approx((60 * 40 + 30 * 80) / 90)
