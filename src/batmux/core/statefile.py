"""Atomic JSON state files that survive ``kill -9`` and power loss.

The new content goes to a temporary file in the same directory, is fsynced, then renamed over
the old file (atomic on POSIX), and the directory is fsynced so the rename itself is durable.
A crash leaves either the old or the new file, never a torn one; a leftover temporary file is
ignored by ``load_json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def save_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_json(path: str | Path, default: Any = None) -> Any:
    """The stored object, or ``default`` if the file is missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError):
        return default
