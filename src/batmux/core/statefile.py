"""Atomic JSON state files: a crash or ``kill -9`` leaves either the old or the new file.

Write to a temporary file in the same directory, fsync it, rename over the target, then fsync
the directory so the rename itself is durable.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def save_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temps(directory: str | Path) -> int:
    """Delete temporary files that a crash left behind mid-write (``.<name>.<pid>.tmp``).

    Run at start, before anything writes: the files they were meant to replace are intact."""
    removed = 0
    root = Path(directory)
    if not root.is_dir():
        return 0
    for tmp in root.rglob(".*.tmp"):
        stem = tmp.name[: -len(".tmp")]
        if stem.rpartition(".")[2].isdigit():
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
    return removed


def load_json(path: str | Path, default: Any = None) -> Any:
    """The stored object, or ``default`` if the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return default
