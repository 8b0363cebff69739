"""Intel (little-endian) CAN signals as DBC tables: ``start|length@1± (scale, offset)``.

The Tesla Model 3/Y DBC (joshwardell/model3dbc) packs signals at bit positions, not bytes, so
``protocols.base.Field`` (byte-aligned) does not fit. A frame is read as one little-endian
integer; a signal is ``length`` bits from bit ``start``. Signals that do not fit in a short
frame are left out rather than read as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    start: int
    length: int
    scale: float = 1.0
    offset: float = 0.0
    signed: bool = False

    def raw(self, word: int) -> int:
        value = (word >> self.start) & ((1 << self.length) - 1)
        if self.signed and value >> (self.length - 1):
            value -= 1 << self.length
        return value

    def read(self, word: int) -> float:
        return round(self.raw(word) * self.scale + self.offset, 6)

    def fits(self, length_bytes: int) -> bool:
        return self.start + self.length <= 8 * length_bytes


def read_signals(table: Sequence[Signal], data: bytes) -> dict[str, float]:
    """Every signal of ``table`` that fits in ``data``, scaled."""
    word = int.from_bytes(data, "little")
    return {s.name: s.read(word) for s in table if s.fits(len(data))}


def encode_signals(
    table: Sequence[Signal], values: Mapping[str, float | None], length: int = 8, word: int = 0
) -> bytes:
    """The inverse of ``read_signals``: scaled values → frame, each clamped to its range."""
    for s in table:
        value = values.get(s.name)
        if value is None or not s.fits(length):
            continue
        raw = round((value - s.offset) / s.scale)
        low, high = (
            (-(1 << (s.length - 1)), (1 << (s.length - 1)) - 1)
            if s.signed
            else (0, (1 << s.length) - 1)
        )
        raw = min(max(raw, low), high) & ((1 << s.length) - 1)
        mask = ((1 << s.length) - 1) << s.start
        word = (word & ~mask) | (raw << s.start)
    return word.to_bytes(length, "little")
