"""A bounded, ordered buffer of line-protocol batches that survives a restart.

Batches queue in memory while the server answers; once a send fails, ``persist()`` writes every
batch not yet on disk as its own segment file (atomic: temp file, fsync, rename), named by a
sequence number so they replay in order after a restart. At most ``max_points`` lines are kept:
beyond that the oldest batches are dropped and counted (``dropped``).
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from batmux.core.statefile import load_json, save_json_atomic

log = logging.getLogger(__name__)


@dataclass
class Batch:
    seq: int
    lines: list[str]
    on_disk: bool = False


class LineBuffer:
    def __init__(self, directory: str | Path, max_points: int) -> None:
        self.dir = Path(directory)
        self.max_points = max_points
        self.batches: deque[Batch] = deque()
        self.points = 0
        self.dropped = 0
        self._next_seq = 1
        self._load()

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:012d}.json"

    def _load(self) -> None:
        for path in sorted(self.dir.glob("*.json")):
            lines = load_json(path)
            if not path.stem.isdigit() or not isinstance(lines, list):
                log.warning("influxdb buffer: ignoring unreadable %s", path.name)
                continue
            seq = int(path.stem)
            self.batches.append(Batch(seq, [str(line) for line in lines], on_disk=True))
            self.points += len(lines)
            self._next_seq = seq + 1
        self._trim()

    def append(self, lines: list[str]) -> None:
        if lines:
            self.batches.append(Batch(self._next_seq, lines))
            self._next_seq += 1
            self.points += len(lines)
            self._trim()

    def _trim(self) -> None:
        while self.points > self.max_points and self.batches:
            self.dropped += len(self.batches[0].lines)
            self._remove(self.batches.popleft())

    def _remove(self, batch: Batch) -> None:
        self.points -= len(batch.lines)
        if batch.on_disk:
            with contextlib.suppress(OSError):
                self._path(batch.seq).unlink()

    def head(self, max_lines: int) -> tuple[int, list[str]]:
        """Up to ``max_lines`` of the oldest lines (whole batches, at least one) and how many
        batches they span, for ``pop``."""
        lines: list[str] = []
        count = 0
        for batch in self.batches:
            if lines and len(lines) + len(batch.lines) > max_lines:
                break
            lines.extend(batch.lines)
            count += 1
        return count, lines

    def pop(self, count: int) -> None:
        """The oldest ``count`` batches were delivered."""
        for _ in range(min(count, len(self.batches))):
            self._remove(self.batches.popleft())

    def persist(self) -> None:
        """Write every batch that is only in memory to disk (raises OSError)."""
        for batch in self.batches:
            if not batch.on_disk:
                save_json_atomic(self._path(batch.seq), batch.lines)
                batch.on_disk = True

    def __len__(self) -> int:
        return len(self.batches)
