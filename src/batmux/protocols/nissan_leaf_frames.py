"""Nissan LEAF EV-CAN frame layouts, CRC-8 and ids (see ``nissan_leaf`` for the whole picture)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

STATUS, LIMITS, SOC, ENERGY, HISTORY = 0x1DB, 0x1DC, 0x55B, 0x5BC, 0x5C0
REQUEST, REPLY = 0x79B, 0x7BB
AZE0_MARKER, ZE1_MARKERS = 0x59E, (0x1ED, 0x1C2)
CRC_IDS = frozenset({STATUS, LIMITS, SOC})
WH_PER_GID = 77  # Battery-Emulator's figure (77.5 in some tools)
NOT_AVAILABLE = 0x3FF
GROUP_LENGTH_GENERATION = {0x29: "ZE0", 0x2B: "AZE0", 0x35: "ZE1"}
CELLS = 96

Order = Literal["motorola", "intel"]


@dataclass(frozen=True, slots=True)
class Signal:
    """One DBC signal: start bit as in the DBC (Motorola: the MSB; Intel: the LSB)."""

    name: str
    start: int
    length: int
    order: Order = "motorola"
    signed: bool = False
    scale: float = 1.0
    offset: float = 0.0
    not_available: int | None = None

    def raw(self, data: bytes) -> int:
        if self.order == "motorola":
            msb = (7 - self.start // 8) * 8 + self.start % 8  # position in the 64-bit BE word
            value = int.from_bytes(data[:8].ljust(8, b"\0"), "big") >> (msb - self.length + 1)
        else:
            value = int.from_bytes(data[:8].ljust(8, b"\0"), "little") >> self.start
        value &= (1 << self.length) - 1
        if self.signed and value >> (self.length - 1):
            value -= 1 << self.length
        return value

    def read(self, data: bytes) -> float | None:
        raw = self.raw(data)
        if raw == self.not_available:
            return None
        return round(raw * self.scale + self.offset, 6)


def _m(name: str, start: int, length: int, **kw: object) -> Signal:
    return Signal(name, start, length, "motorola", **kw)  # type: ignore[arg-type]


def _i(name: str, start: int, length: int, **kw: object) -> Signal:
    return Signal(name, start, length, "intel", **kw)  # type: ignore[arg-type]


LAYOUTS: dict[int, tuple[Signal, ...]] = {
    STATUS: (
        _m("current", 7, 11, signed=True, scale=0.5),
        _i("failsafe_status", 8, 3),
        _i("relay_cut_request", 11, 2),
        _m("voltage", 23, 10, scale=0.5, not_available=NOT_AVAILABLE),
        _i("main_relay_on", 29, 1),
        _i("full_charge", 28, 1),
        _i("interlock", 27, 1),
        _i("usable_soc", 32, 7),
        _i("prun", 48, 2),
    ),
    LIMITS: (
        _m("discharge_power_limit_kw", 7, 10, scale=0.25),
        _m("charge_power_limit_kw", 13, 10, scale=0.25),
        _m("max_power_for_charger_kw", 19, 10, scale=0.1, offset=-10, not_available=0x3FF),
        _i("prun", 48, 2),
    ),
    SOC: (
        _m("soc", 7, 10, scale=0.1, not_available=NOT_AVAILABLE),
        _i("alu_answer", 16, 8),
        _i("capacity_empty", 55, 1),
        _i("prun", 48, 2),
    ),
    ENERGY: (
        _m("gids", 7, 10, not_available=NOT_AVAILABLE),
        _i("soh", 33, 7),
        _i("max_gids_flag", 44, 1),
        _i("ze0_temperature", 24, 8, offset=-40),
    ),
    # Battery-Emulator reads the whole byte ×0.5 (its bottom bit is always 0); the DBC's 7-bit
    # field at bit 17 with a 0.5 factor would halve it again.
    HISTORY: (_i("mux", 6, 2), _i("temperature", 16, 8, scale=0.5, offset=-40)),
}
MIN_LENGTH = {STATUS: 8, LIMITS: 8, SOC: 8, ENERGY: 6, HISTORY: 3, AZE0_MARKER: 1,
              ZE1_MARKERS[0]: 1, ZE1_MARKERS[1]: 1, REQUEST: 1, REPLY: 1}  # fmt: skip


def crc8(data: bytes, poly: int = 0x85) -> int:
    """CRC-8, MSB first, initial value 0, no final XOR (the LEAF's over bytes 0–6)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1 ^ poly) & 0xFF if crc & 0x80 else crc << 1 & 0xFF
    return crc


def with_crc(body: bytes) -> bytes:
    """Bytes 0–6 → the 8-byte frame with its CRC in byte 7."""
    return bytes(body[:7]) + bytes([crc8(bytes(body[:7]))])


def read_frame(can_id: int, data: bytes) -> dict[str, float | None]:
    return {s.name: s.read(data) for s in LAYOUTS[can_id]}


def key(can_id: int, sub: int | None = None) -> int:
    """The id a decoded frame is kept under: muxed frames and LBC groups each get their own."""
    return can_id if sub is None else can_id << 8 | sub


def is_wakeup(can_id: int, data: bytes) -> bool:
    """A frame saying "no measurement yet" (seen on three packs at wake-up)."""
    if can_id == STATUS:
        return LAYOUTS[STATUS][3].raw(data) == NOT_AVAILABLE
    if can_id == ENERGY:
        return LAYOUTS[ENERGY][0].raw(data) == NOT_AVAILABLE
    if can_id == SOC:
        return LAYOUTS[SOC][0].raw(data) == NOT_AVAILABLE
    return False


def put(signal: Signal, buf: bytearray, value: float) -> None:
    """Write a physical value into an 8-byte buffer (the inverse of ``Signal.read``)."""
    mask = (1 << signal.length) - 1
    raw = round((value - signal.offset) / signal.scale) & mask
    if signal.order == "motorola":
        shift = (7 - signal.start // 8) * 8 + signal.start % 8 - signal.length + 1
        word = int.from_bytes(buf, "big") & ~(mask << shift) | raw << shift
        buf[:] = word.to_bytes(8, "big")
    else:
        word = int.from_bytes(buf, "little") & ~(mask << signal.start) | raw << signal.start
        buf[:] = word.to_bytes(8, "little")


def encode_frame(can_id: int, values: dict[str, float], tail: bytes = b"") -> bytes:
    """Named values → an 8-byte frame of ``can_id`` (CRC in byte 7 where the id has one)."""
    buf = bytearray(8)
    for signal in LAYOUTS[can_id]:
        if signal.name in values:
            put(signal, buf, values[signal.name])
    if tail:
        buf[8 - len(tail) :] = tail
    return with_crc(bytes(buf)) if can_id in CRC_IDS else bytes(buf)
