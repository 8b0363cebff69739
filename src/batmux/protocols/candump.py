"""candump text lines ⇄ CAN frames (the format of ``candump -L`` and ``cansend``).

    (1436509052.249713) can0 351#1402C012C012C201     logged line (timestamp, channel)
    351#1402C012C012C201                              bare frame, as typed on a command line
    18FF50E5#0102                                     8 hex digits = 29-bit extended id

Remote (``R``) and CAN FD (``##``) frames are not used by any battery protocol here; they are
rejected like any other malformed line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batmux.errors import CorruptFrame

Frame = tuple[int, bytes]  # (arbitration id, data): what every CAN builder returns

_LINE = re.compile(
    r"^\s*(?:\((?P<ts>\d+(?:\.\d+)?)\)\s+(?P<chan>\S+)\s+)?"
    r"(?P<id>[0-9A-Fa-f]{1,8})#(?P<data>[0-9A-Fa-f.]*)\s*$"
)


@dataclass(frozen=True, slots=True)
class CandumpRecord:
    arbitration_id: int
    data: bytes
    timestamp: float | None = None
    channel: str | None = None
    extended: bool = False

    @property
    def frame(self) -> Frame:
        return (self.arbitration_id, self.data)


def parse_line(line: str) -> CandumpRecord:
    """One candump line → record; ``CorruptFrame`` if it is not a classic data frame."""
    match = _LINE.match(line)
    if match is None:
        raise CorruptFrame(f"not a candump frame: {line.strip()[:60]!r}")
    hex_data = match["data"].replace(".", "")
    if len(hex_data) % 2 or len(hex_data) > 16:
        raise CorruptFrame(f"bad CAN data {match['data']!r} (need 0-8 whole bytes)")
    ident = match["id"]
    can_id = int(ident, 16)
    extended = len(ident) > 3
    if (extended and can_id > 0x1FFFFFFF) or (not extended and can_id > 0x7FF):
        raise CorruptFrame(f"CAN id {ident} out of range")
    ts = match["ts"]
    return CandumpRecord(
        arbitration_id=can_id,
        data=bytes.fromhex(hex_data),
        timestamp=float(ts) if ts is not None else None,
        channel=match["chan"],
        extended=extended,
    )


def format_frame(can_id: int, data: bytes, extended: bool | None = None) -> str:
    """``351#1402C012...``: 3 hex digits for standard ids, 8 for extended."""
    if extended is None:
        extended = can_id > 0x7FF
    ident = f"{can_id:08X}" if extended else f"{can_id:03X}"
    return f"{ident}#{data.hex().upper()}"


def format_line(
    can_id: int,
    data: bytes,
    timestamp: float,
    channel: str = "can0",
    extended: bool | None = None,
) -> str:
    """A ``candump -L`` line without the newline."""
    return f"({timestamp:.6f}) {channel} {format_frame(can_id, data, extended)}"


def pack(frame: Frame) -> bytes:
    """(id, data) → 4-byte big-endian id + data: the ``bytes`` form CAN codecs pass around."""
    can_id, data = frame
    return can_id.to_bytes(4, "big") + bytes(data)


def unpack(packed: bytes) -> Frame:
    if len(packed) < 4:
        raise CorruptFrame(f"packed CAN frame of {len(packed)} bytes")
    return int.from_bytes(packed[:4], "big"), bytes(packed[4:])
