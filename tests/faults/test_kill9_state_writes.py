"""``kill -9`` in the middle of state writes: a child writes the published-totals file the way
the gateway does (atomic write, then "publish" the value on stdout) in a tight loop, so nearly
every kill lands inside a write. After each kill the file parses and holds at least the last
value that was published; the next start (``remove_stale_temps``) clears the torn temp file.
5 kills in the default suite, 30 with ``-m soak``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batmux.core.statefile import remove_stale_temps
from faults.fault_helpers import report

WRITER = """
import sys
from pathlib import Path
from batmux.core.statefile import load_json, save_json_atomic
path = Path(sys.argv[1])
total = float((load_json(path) or {}).get("bank", {}).get("charged_wh", 0.0))
while True:
    total += 0.5
    save_json_atomic(path, {"bank": {"charged_wh": total, "pad": "x" * 50000}})
    print(total, flush=True)  # published only once it is on disk
"""


def kill_writes(tmp_path: Path, kills: int) -> None:
    rng = random.Random(kills)
    path = tmp_path / "meters" / "published.totals.json"
    published = 0.0
    torn = 0
    for _ in range(kills):
        removed = remove_stale_temps(tmp_path)  # what the gateway does at start
        torn += removed
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        first = float(proc.stdout.readline())
        assert first > published, (first, published)  # resumed from at least what was shown
        time.sleep(rng.uniform(0.02, 0.2))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        published = max([first, *(float(v) for v in out.split())])
        saved = json.loads(path.read_bytes())["bank"]["charged_wh"]  # whole, parses
        assert saved >= published, (saved, published)
    torn += remove_stale_temps(tmp_path)
    report(
        f"kill -9 during state writes x{kills}",
        kills_that_cut_a_write_short=torn,
        state_file_always_parsed=True,
        lost="nothing published: the file always held at least the last published total",
    )


def test_kill_9_during_writes_five_times(tmp_path: Path) -> None:
    kill_writes(tmp_path, 5)


@pytest.mark.soak
def test_kill_9_during_writes_thirty_times(tmp_path: Path) -> None:
    kill_writes(tmp_path, 30)
