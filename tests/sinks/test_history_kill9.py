"""``kill -9`` while the history is being written, again and again: the file always opens,
passes SQLite's integrity check and holds every round whose commit was reported, whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

BATTERIES = 50

WRITER = f"""
import sys
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.sinks.history_store import HistoryStore, state_row

db = HistoryStore(sys.argv[1], full_resolution_s=1e9)
first = int(sys.argv[2])
for n in range(first, first + 100000):
    rows = []
    for b in range({BATTERIES}):
        s = BatterySample(timestamp=0.0, voltage_v=50.0 + b, current_a=1.0, soc_pct=n % 100,
                          cell_voltages_v=(3.3,) * 16)
        rows.append(state_row(BatteryState(name=f"b{{b}}", available=True, sample=s), float(n)))
    db.write_round(rows)
    print(n, flush=True)  # reported only after COMMIT returned
"""


def committed_rounds(path: Path) -> dict[float, int]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("SELECT t, COUNT(*) FROM samples GROUP BY t").fetchall())
    finally:
        db.close()


def test_repeated_kill_9_loses_no_committed_round(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    reported: list[int] = []
    next_round = 1
    for kill_after in (3, 17, 1, 40, 9, 25):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(next_round)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for _ in range(kill_after):
            reported.append(int(proc.stdout.readline()))
        os.kill(proc.pid, signal.SIGKILL)  # mid-way through a later round's writes
        proc.wait()
        rounds = committed_rounds(path)
        assert set(reported) <= set(rounds), "a reported commit is missing"
        assert set(rounds.values()) == {BATTERIES}, "a round was stored partially"
        next_round = int(max(rounds)) + 1
    assert len(reported) == 3 + 17 + 1 + 40 + 9 + 25
