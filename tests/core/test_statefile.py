import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batmux.core.statefile import load_json, remove_stale_temps, save_json_atomic


def test_roundtrip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    assert load_json(path, {"x": 1}) == {"x": 1}
    save_json_atomic(path, {"a": [1, 2.5], "b": None})
    assert load_json(path) == {"a": [1, 2.5], "b": None}
    save_json_atomic(path, {"a": 2})
    assert load_json(path) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_corrupt_file_gives_default(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"a": 1')
    assert load_json(path, "default") == "default"


def test_torn_tmp_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_json_atomic(path, {"charge": 42.0})
    (tmp_path / "state.json.999.tmp").write_text('{"charge": 1')  # a crash mid-write
    assert load_json(path) == {"charge": 42.0}


WRITER = """
import sys
from batmux.core.statefile import save_json_atomic
i = 0
print("ready", flush=True)
while True:
    i += 1
    save_json_atomic(sys.argv[1], {"i": i, "pad": "x" * 20000})
"""


def test_kill_9_leaves_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    data = load_json(path)
    assert isinstance(data, dict) and data["i"] >= 1 and len(data["pad"]) == 20000
    json.loads(path.read_text())  # the file itself is whole


def test_stale_temps_of_a_crashed_write_are_removed(tmp_path: Path) -> None:
    save_json_atomic(tmp_path / "meters" / "a.json", {"charged_wh": 1.0})
    (tmp_path / "meters" / ".a.json.4242.tmp").write_bytes(b'{"charged_wh": 2')  # torn
    (tmp_path / ".bank_state.json.77.tmp").write_bytes(b"")
    (tmp_path / ".keep.tmp").write_bytes(b"not ours")
    assert remove_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".keep.tmp", "a.json"]
    assert load_json(tmp_path / "meters" / "a.json") == {"charged_wh": 1.0}
