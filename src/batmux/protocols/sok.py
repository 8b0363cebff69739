"""SOK / ABC-BMS (app ``com.sjty.sbs_bms``), 20-byte "CC Fx" replies on FFE1.

Host → BMS: ``EE Cx 00 00 00 crc8`` (CRC-8/MAXIM, reflected poly 0x8C, init 0, over bytes 0..4).
BMS → host: ``CC Fx`` + 17 data bytes + crc8 over bytes 0..18. Each request is answered by
several frames: C1 → F0 F2, C2 → F0 F3 F4… (one F4 per four cells), C4 → F9 (optional).

Example (vector sok_1) F0 ``cc f0 a26b00 000000 a08601 409e01 0700 63 …``: 27554 mV, 0 mA,
design 100000 mAh, remaining 106048 mAh, 7 cycles, SoC 99 %. All fields little endian.
"""

from __future__ import annotations

from collections.abc import Sequence

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Field, ResyncCodec, read_table

REQ_HEAD, REPLY_HEAD = 0xEE, 0xCC
FRAME_LEN = 20
CMD_NAME, CMD_INFO, CMD_DETAIL, CMD_SETTINGS, CMD_PROTECTION = 0xC0, 0xC1, 0xC2, 0xC3, 0xC4
F_STATUS, F_NAME, F_MOSFET, F_DETAIL, F_CELLS, F_PROTECTION = 0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF9
REPLY_TYPES = frozenset(range(0xF0, 0xFB))
EXPECTED_REPLIES: dict[int, frozenset[int]] = {
    CMD_NAME: frozenset({F_NAME}),
    CMD_INFO: frozenset({F_STATUS, F_MOSFET}),
    CMD_DETAIL: frozenset({F_STATUS, F_DETAIL, F_CELLS}),
    CMD_SETTINGS: frozenset({0xF5, 0xF6, 0xF7, 0xF8, 0xFA}),
    CMD_PROTECTION: frozenset({F_PROTECTION}),
}
CELLS_PER_FRAME = 4

STATUS = (  # F0
    Field("voltage", 2, 3, scale=0.001),
    Field("current", 5, 3, signed=True, scale=0.001),
    Field("capacity", 8, 3, scale=0.001),
    Field("charge", 11, 3, scale=0.001),
    Field("cycles", 14, 2),
    Field("soc", 16, 1),
)
MOSFET = (  # F2; temperatures follow at 5 + 2k as s16le
    Field("charge_enabled", 2, 1),
    Field("discharge_enabled", 3, 1),
    Field("temp_count", 4, 1),
)
DETAIL = (  # F3
    Field("heater", 8, 1),
    Field("balancing", 10, 1),
)
MAX_TEMPS = (FRAME_LEN - 1 - 5) // 2


def crc8(data: bytes) -> int:
    """CRC-8/MAXIM (Dallas 1-Wire)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def request(cmd: int) -> bytes:
    body = bytes([REQ_HEAD, cmd, 0, 0, 0])
    return body + bytes([crc8(body)])


def parse_request(data: bytes) -> int | None:
    """Command byte of a host request, or None if it is not one (used by the simulator)."""
    if len(data) != 6 or data[0] != REQ_HEAD or crc8(data[:5]) != data[5]:
        return None
    return data[1]


class SokCodec(ResyncCodec):
    """Cuts the stream into 20-byte ``CC Fx`` frames, CRC-checked; resyncs on the header."""

    name = "sok"
    header = bytes([REPLY_HEAD])

    def find_start(self, buf: bytearray) -> int:
        return _find_header(buf)

    def frame_length(self, buf: bytearray) -> int | None:
        return FRAME_LEN

    def check(self, frame: bytes) -> str | None:
        return None if crc8(frame[:-1]) == frame[-1] else f"frame 0x{frame[1]:02x} CRC mismatch"

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        by_type: dict[int, bytes] = {}
        cell_frames: list[bytes] = []
        for frame in frames:
            if len(frame) != FRAME_LEN:
                continue
            if frame[1] == F_CELLS:
                cell_frames.append(frame)
            else:
                by_type[frame[1]] = frame
        missing = {F_STATUS, F_MOSFET} - by_type.keys()
        if missing:
            detail = f"; last error: {self.last_error}" if self.last_error else ""
            names = ", ".join(f"0x{m:02X}" for m in sorted(missing))
            raise ProtocolError(f"SOK reply incomplete, missing {names}{detail}")
        return decode_frames(by_type, cell_frames, timestamp)


def _find_header(buf: bytearray) -> int:
    start = buf.find(REPLY_HEAD)
    while start >= 0 and start + 1 < len(buf) and buf[start + 1] not in REPLY_TYPES:
        start = buf.find(REPLY_HEAD, start + 1)
    return start


def decode_cells(cell_frames: Sequence[bytes]) -> tuple[float, ...]:
    """F4 frames: up to four (index u8, mV u24le) pairs each; index 0 means an empty slot."""
    cells: dict[int, float] = {}
    for frame in cell_frames:
        for k in range(CELLS_PER_FRAME):
            index = frame[2 + 4 * k]
            if index:
                cells[index] = int.from_bytes(frame[3 + 4 * k : 6 + 4 * k], "little") / 1000
    return tuple(round(cells[i], 3) for i in sorted(cells))


def decode_frames(
    by_type: dict[int, bytes], cell_frames: Sequence[bytes], timestamp: float = 0.0
) -> BatterySample:
    status = read_table(STATUS, by_type[F_STATUS])
    mos_frame = by_type[F_MOSFET]
    mos = read_table(MOSFET, mos_frame)
    temps = tuple(
        float(int.from_bytes(mos_frame[5 + 2 * k : 7 + 2 * k], "little", signed=True))
        for k in range(min(int(mos["temp_count"]), MAX_TEMPS))
    )
    extra: dict[str, float | int | bool] = {}
    balancing: bool | None = None
    if F_DETAIL in by_type:
        detail = read_table(DETAIL, by_type[F_DETAIL])
        extra["heater"] = bool(detail["heater"])
        balancing = bool(detail["balancing"])
    alarms: frozenset[Alarm] = frozenset()
    if F_PROTECTION in by_type:
        bits = sum((by_type[F_PROTECTION][2 + i] & 1) << i for i in range(16))
        extra["protection_bits"] = bits
        # The meaning of each flag is not documented by any source: report a generic fault.
        alarms = frozenset({Alarm.BMS_FAULT}) if bits else frozenset()
    return BatterySample(
        timestamp=timestamp,
        voltage_v=status["voltage"],
        current_a=status["current"],
        soc_pct=int(status["soc"]),
        charge_ah=status["charge"],
        capacity_ah=status["capacity"],
        cycles=int(status["cycles"]),
        cell_voltages_v=decode_cells(cell_frames),
        temperatures_c=temps,
        charge_enabled=bool(mos["charge_enabled"]),
        discharge_enabled=bool(mos["discharge_enabled"]),
        balancing=balancing,
        alarms=alarms,
        extra=extra,
    )


# -- encoders (the device side, used by the simulator) ---------------------------------------


def build_frame(frame_type: int, data: bytes) -> bytes:
    body = bytes([REPLY_HEAD, frame_type]) + data[:17].ljust(17, b"\x00")
    return body + bytes([crc8(body)])


def _le(value: float, size: int, signed: bool = False) -> bytes:
    bits = 8 * size
    lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    return max(lo, min(round(value), hi)).to_bytes(size, "little", signed=signed)


def build_status(sample: BatterySample) -> bytes:
    return build_frame(
        F_STATUS,
        b"".join(
            (
                _le((sample.voltage_v or 0) * 1000, 3),
                _le((sample.current_a or 0) * 1000, 3, signed=True),
                _le((sample.capacity_ah or 0) * 1000, 3),
                _le((sample.charge_ah or 0) * 1000, 3),
                _le(sample.cycles or 0, 2),
                _le(sample.soc_pct or 0, 1),
            )
        ),
    )


def build_mosfet(sample: BatterySample) -> bytes:
    temps = sample.temperatures_c[:MAX_TEMPS]
    return build_frame(
        F_MOSFET,
        bytes([bool(sample.charge_enabled), bool(sample.discharge_enabled), len(temps)])
        + b"".join(_le(t, 2, signed=True) for t in temps),
    )


def build_detail(sample: BatterySample, date: tuple[int, int, int] = (23, 3, 18)) -> bytes:
    data = bytearray(17)
    data[0:3] = bytes(date)
    data[3:6] = (200 * 128).to_bytes(3, "big")  # "rated capacity" field batmon reads
    data[6] = bool(sample.extra.get("heater", False))
    data[8] = bool(sample.balancing)
    return build_frame(F_DETAIL, bytes(data))


def build_cells(sample: BatterySample) -> list[bytes]:
    cells = sample.cell_voltages_v
    frames = []
    for first in range(0, len(cells), CELLS_PER_FRAME):
        data = b"".join(
            bytes([first + k + 1]) + _le(v * 1000, 3)
            for k, v in enumerate(cells[first : first + CELLS_PER_FRAME])
        )
        frames.append(build_frame(F_CELLS, data))
    return frames


def build_protection(bits: int) -> bytes:
    return build_frame(F_PROTECTION, bytes((bits >> i) & 1 for i in range(16)))


def build_name(name: str) -> bytes:
    return build_frame(F_NAME, name.encode("ascii")[:16] + b"\r")


def build_replies(
    cmd: int, sample: BatterySample, name: str = "SOK-BMS", protection_bits: int | None = 0
) -> list[bytes]:
    """Every frame the BMS sends for one request, in the device's order."""
    if cmd == CMD_NAME:
        return [build_name(name)]
    if cmd == CMD_INFO:
        return [build_status(sample), build_mosfet(sample)]
    if cmd == CMD_DETAIL:
        return [build_status(sample), build_detail(sample), *build_cells(sample)]
    if cmd == CMD_PROTECTION and protection_bits is not None:
        return [build_protection(protection_bits)]
    return []
