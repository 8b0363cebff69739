"""Frame capture for bug reports: the last N raw chunks per device, written as JSON lines.

``CaptureRing.record`` has the signature of ``BleDriver.on_raw`` (direction, bytes), so
``ring.attach(driver)`` is all the wiring a device needs. The file starts with one header line
``{"capture": 1, "device": ..., "protocol": ...}`` followed by one line per chunk
``{"timestamp": 1718000000.123, "direction": "rx", "hex": "55aaeb90..."}``; ``read_capture``
returns the chunks so ``batmux decode`` can feed the ``rx`` ones to a codec again.
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
DEFAULT_SIZE = 500
_HEAD = struct.Struct("<d?")  # a ring entry's timestamp and "rx?" before the chunk's bytes


@dataclass(frozen=True, slots=True)
class CaptureEntry:
    timestamp: float
    direction: str  # "rx" (device → host) or "tx" (host → device)
    hex: str

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.hex)


class CaptureRing:
    """The last ``size`` raw chunks of one device."""

    def __init__(self, size: int = DEFAULT_SIZE, clock: Callable[[], float] = time.time) -> None:
        # One bytes object per chunk, its time and direction packed in front: this runs for
        # every chunk of every device and most entries fall out unread, so decoding waits for
        # entries(). Half the memory of a (float, str, bytes) tuple: ~70 B for a 20-byte
        # notification instead of ~150, 500 of them per device.
        self._entries: deque[bytes] = deque(maxlen=size)
        self._clock = clock
        self._driver: Any = None

    def record(self, direction: str, data: bytes) -> None:
        self._entries.append(_HEAD.pack(self._clock(), direction == "rx") + data)

    def attach(self, driver: Any) -> None:
        """Feed this ring from a ``BleDriver`` (sets its ``on_raw`` hook)."""
        driver.on_raw = self.record
        self._driver = driver

    def detach(self) -> None:
        """Stop recording: the driver's hook is cleared and the entries dropped."""
        if self._driver is not None and self._driver.on_raw == self.record:
            self._driver.on_raw = None
        self._driver = None
        self._entries.clear()

    def entries(self) -> list[CaptureEntry]:
        out = []
        for entry in self._entries:
            t, rx = _HEAD.unpack_from(entry)
            out.append(CaptureEntry(t, "rx" if rx else "tx", entry[_HEAD.size :].hex()))
        return out

    def __len__(self) -> int:
        return len(self._entries)


def write_capture(
    directory: str | Path, device_name: str, ring: CaptureRing, protocol: str = ""
) -> Path:
    """Write ``ring`` to ``directory/<device>-<time>.jsonl``; returns the path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / capture_filename(device_name)
    path.write_text(capture_text(device_name, ring, protocol), encoding="utf-8")
    return path


def capture_filename(device_name: str) -> str:
    """``<device>-<time>.jsonl`` with the name reduced to characters safe in any file system."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", device_name) or "device"
    return f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


def capture_text(device_name: str, ring: CaptureRing, protocol: str = "") -> str:
    """The capture file's content: the header line, then one line per chunk."""
    header = {"capture": FORMAT_VERSION, "device": device_name, "protocol": protocol}
    lines = [json.dumps(header)] + [json.dumps(asdict(e)) for e in ring.entries()]
    return "\n".join(lines) + "\n"


def read_capture(path: str | Path) -> list[CaptureEntry]:
    """The chunks of a capture file, oldest first (header and blank lines skipped)."""
    entries: list[CaptureEntry] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if "capture" in item:
                continue
            entry = CaptureEntry(float(item["timestamp"]), str(item["direction"]), item["hex"])
            bytes.fromhex(entry.hex)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a capture line ({exc})") from exc
        if entry.direction not in ("rx", "tx"):
            raise ValueError(f"{path}:{number}: direction must be rx or tx")
        entries.append(entry)
    return entries


def capture_header(path: str | Path) -> dict[str, Any]:
    """The header line (device, protocol) of a capture file, or {} if it has none."""
    with Path(path).open(encoding="utf-8") as src:
        first = src.readline()
    try:
        item = json.loads(first)
    except ValueError:
        return {}
    return item if isinstance(item, dict) and "capture" in item else {}
