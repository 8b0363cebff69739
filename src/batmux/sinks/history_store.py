"""The built-in history: every battery's and group's published state in one SQLite file.

Two tables. ``samples`` holds every publish round as published (full resolution) for
``full_resolution_s``; ``rollup`` holds older data as min/mean/max per ``bucket_s`` bucket. Both
are trimmed to ``retention_s``. One transaction per publish round, WAL journal: a ``kill -9``
loses at most the round being written, never a committed one, and never corrupts the file.

This class is synchronous and not thread-safe: the sink runs it in one worker thread so the
event loop never waits for the disk. Time comes in as arguments (an injected clock upstream).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from batmux.model.state import BatteryState
from batmux.sinks.state_values import scalar_values

# The charted values, in column order (names as in the JSON API / MQTT state).
VALUES = ("soc", "voltage", "current", "power", "cell_min", "cell_max", "cell_delta", "temp_max")

Row = tuple[Any, ...]  # (battery, t, online, *VALUES)

# SQLite's page cache (default ~2 MiB) fills with the pages each append touches and stays
# resident: at one battery, +2.1 MiB RSS after 6 h. Appends need only the last pages; a chart
# query reads the rest from the OS's file cache. 256 KiB keeps it at +0.4 MiB after a day.
CACHE_KIB = 256


def state_row(state: BatteryState, t: float) -> Row | None:
    """The ``samples`` row of one published state, or None before its first sample."""
    if state.sample is None:
        return None
    v = scalar_values(state)  # the same cell spread and hottest probe as InfluxDB and /metrics
    return (
        state.name,
        t,
        1 if state.available else 0,
        v["soc"],
        v["voltage"],
        v["current"],
        v["power"],
        v.get("cell_min"),
        v.get("cell_max"),
        v.get("cell_delta"),
        v["temperature_max"],
    )


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS samples (
    battery TEXT NOT NULL, t REAL NOT NULL, online INTEGER NOT NULL,
    {", ".join(f"{v} REAL" for v in VALUES)}
);
CREATE INDEX IF NOT EXISTS samples_bt ON samples (battery, t);
CREATE TABLE IF NOT EXISTS rollup (
    battery TEXT NOT NULL, t REAL NOT NULL, n INTEGER NOT NULL, online REAL,
    {", ".join(f"{v}_min REAL, {v}_mean REAL, {v}_max REAL" for v in VALUES)},
    PRIMARY KEY (battery, t)
);
"""


class HistoryStore:
    def __init__(
        self,
        path: str | Path,
        retention_s: float = 30 * 86400,
        full_resolution_s: float = 86400,
        bucket_s: int = 300,
    ) -> None:
        self.path = Path(path)
        self.retention_s = retention_s
        self.full_resolution_s = min(full_resolution_s, retention_s)
        self.bucket_s = bucket_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN … COMMIT) per round
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a process crash loses nothing committed (a power cut may lose
        # the last rounds, never consistency) and a commit costs no fsync.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # negative: KiB, not pages
        self.db.executescript(_SCHEMA)
        self._insert = f"INSERT INTO samples VALUES (?, ?, ?, {', '.join('?' for _ in VALUES)})"
        self.rounds = 0

    def close(self) -> None:
        self.db.close()

    # -- writing ------------------------------------------------------------------------------
    def write_round(self, rows: Sequence[Row]) -> None:
        """One publish round, in one transaction."""
        if not rows:
            return
        with self._transaction():
            self.db.executemany(self._insert, rows)
        self.rounds += 1

    def maintain(self, now: float) -> None:
        """Roll full-resolution rows older than the window into buckets; apply retention.

        Only whole buckets are rolled up (the cutoff is aligned down to a bucket boundary), so
        a bucket is written once and never merged with a later part of itself."""
        b = self.bucket_s
        cutoff = math.floor((now - self.full_resolution_s) / b) * b
        aggregates = ", ".join(f"MIN({v}), AVG({v}), MAX({v})" for v in VALUES)
        with self._transaction():
            self.db.execute(
                f"INSERT OR REPLACE INTO rollup SELECT battery, CAST(t / ? AS INTEGER) * ?, "
                f"COUNT(*), AVG(online), {aggregates} FROM samples WHERE t < ? "
                "GROUP BY battery, CAST(t / ? AS INTEGER)",
                (b, b, cutoff, b),
            )
            self.db.execute("DELETE FROM samples WHERE t < ?", (cutoff,))
            oldest = now - self.retention_s
            self.db.execute("DELETE FROM rollup WHERE t < ?", (oldest,))
            self.db.execute("DELETE FROM samples WHERE t < ?", (oldest,))

    def _transaction(self) -> Any:
        db = self.db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN")

            def __exit__(self, exc_type: Any, *_: Any) -> None:
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    # -- reading ------------------------------------------------------------------------------
    def batteries(self) -> list[str]:
        rows = self.db.execute(
            "SELECT battery FROM samples UNION SELECT battery FROM rollup ORDER BY 1"
        )
        return [r[0] for r in rows]

    def query(
        self,
        battery: str,
        start: float,
        end: float,
        values: Iterable[str] = VALUES,
    ) -> list[dict[str, Any]]:
        """Points of ``battery`` with ``start <= t <= end``, oldest first. Rolled-up points
        carry ``n`` and ``<value>_min``/``<value>_max`` beside the mean under the plain name."""
        names = [v for v in values if v in VALUES]
        out: list[dict[str, Any]] = []
        cols = ", ".join(f"{v}_min, {v}_mean, {v}_max" for v in names)
        for row in self.db.execute(
            f"SELECT t, n, online{', ' + cols if cols else ''} FROM rollup "
            "WHERE battery = ? AND t >= ? AND t <= ? ORDER BY t",
            (battery, start, end),
        ):
            point: dict[str, Any] = {"t": row[0], "n": row[1], "online": row[2]}
            for i, v in enumerate(names):
                low, mean, high = row[3 + 3 * i : 6 + 3 * i]
                point[v] = mean
                point[f"{v}_min"] = low
                point[f"{v}_max"] = high
            out.append(point)
        plain = ", ".join(names)
        for row in self.db.execute(
            f"SELECT t, online{', ' + plain if plain else ''} FROM samples "
            "WHERE battery = ? AND t >= ? AND t <= ? ORDER BY t",
            (battery, start, end),
        ):
            point = {"t": row[0], "n": 1, "online": row[1]}
            point.update(zip(names, row[2:], strict=True))
            out.append(point)
        out.sort(key=lambda p: p["t"])  # a clock stepped back must not scramble a chart
        return out

    def query_thinned(
        self,
        battery: str,
        start: float,
        end: float,
        values: Iterable[str],
        points: int,
    ) -> list[dict[str, Any]]:
        """Like ``query`` but at most about ``points`` points: the span is cut into ``points``
        equal time slots and each slot becomes one point, aggregated in SQL (min of the mins,
        mean weighted by ``n``, max of the maxes), so a week of 1 Hz rows stays a small answer
        and a short spike still shows in ``<value>_max``. A span that holds no more than
        ``points`` rows is answered as ``query`` would."""
        names = [v for v in values if v in VALUES]
        if self._rows(battery, start, end) <= points:
            return self.query(battery, start, end, names)
        width = max((end - start) / max(points, 1), 1e-3)
        slots: dict[int, list[Any]] = {}  # slot -> [t*n, n, online*n, (min, mean*n, n_v, max)...]
        sample_cols = "".join(f", MIN({v}), SUM({v}), COUNT({v}), MAX({v})" for v in names)
        rollup_cols = "".join(
            f", MIN({v}_min), SUM({v}_mean * n), SUM(CASE WHEN {v}_mean IS NOT NULL THEN n END),"
            f" MAX({v}_max)"
            for v in names
        )
        for table, cols, n in (("rollup", rollup_cols, "n"), ("samples", sample_cols, "1")):
            for row in self.db.execute(
                f"SELECT CAST((t - ?) / ? AS INTEGER) AS slot, SUM(t * {n}), SUM({n}),"
                f" SUM(online * {n}){cols} FROM {table}"
                " WHERE battery = ? AND t >= ? AND t <= ? GROUP BY slot",
                (start, width, battery, start, end),
            ):
                _merge(
                    slots.setdefault(row[0], [0.0, 0, 0.0] + [None, 0.0, 0, None] * len(names)),
                    row[1:],
                )
        out = []
        for slot in sorted(slots):
            acc = slots[slot]
            n = acc[1]
            point: dict[str, Any] = {"t": acc[0] / n, "n": n, "online": acc[2] / n}
            for i, v in enumerate(names):
                low, total, count, high = acc[3 + 4 * i : 7 + 4 * i]
                point[v] = total / count if count else None
                point[f"{v}_min"] = low
                point[f"{v}_max"] = high
            out.append(point)
        return out

    def _rows(self, battery: str, start: float, end: float) -> int:
        where = "WHERE battery = ? AND t >= ? AND t <= ?"
        args = (battery, start, end)
        samples = self.db.execute(f"SELECT COUNT(*) FROM samples {where}", args).fetchone()[0]
        rollup = self.db.execute(f"SELECT COUNT(*) FROM rollup {where}", args).fetchone()[0]
        return int(samples) + int(rollup)

    def count(self) -> tuple[int, int]:
        """(full-resolution rows, rolled-up rows)."""
        samples = self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        rollup = self.db.execute("SELECT COUNT(*) FROM rollup").fetchone()[0]
        return samples, rollup


def _merge(acc: list[Any], row: Sequence[Any]) -> None:
    """Add one table's aggregate of a slot to the slot's running totals (see query_thinned)."""
    acc[0] += row[0]
    acc[1] += row[1]
    acc[2] += row[2] or 0.0
    for i in range(3, len(acc), 4):
        low, total, count, high = row[i : i + 4]
        if low is not None:
            acc[i] = low if acc[i] is None else min(acc[i], low)
        if high is not None:
            acc[i + 3] = high if acc[i + 3] is None else max(acc[i + 3], high)
        acc[i + 1] += total or 0.0
        acc[i + 2] += count or 0


def open_store(config: Any, state_dir: str | Path) -> HistoryStore:
    """The store for a ``history:`` section (``HistoryConfig``)."""
    path = Path(config.path) if config.path else Path(state_dir) / "history.sqlite"
    return HistoryStore(
        path,
        retention_s=config.retention_days * 86400,
        full_resolution_s=config.full_resolution_hours * 3600,
        bucket_s=config.bucket_s,
    )
