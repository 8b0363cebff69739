"""JBD / Jiabaida / Xiaoxiang / Overkill Solar / LLT Power BMS, BLE (and UART) protocol.

Host → BMS: ``DD A5 reg len data… chk_hi chk_lo 77`` (``5A`` instead of ``A5`` to write).
BMS → host: ``DD reg status len data… chk_hi chk_lo 77``; checksum = 0x10000 − sum(status..data).
Replies span several 20-byte notifications and are reassembled by ``len + 7``.

Basic info (reg 0x03), big endian, frame offsets (payload + 4), e.g. vector jbd_3:
``DD 03 00 2F | 05 2B`` → 13.23 V, ``FB D2`` → −10.70 A (positive = charging natively),
``65 00`` → 258.56 Ah, ``7A A8`` → 314.00 Ah … ``04`` cells, ``04`` NTCs, ``0B 7E`` → 21.1 °C.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.base import Field, ResyncCodec, read_table, require_length

START, END = 0xDD, 0x77
READ, WRITE = 0xA5, 0x5A
REG_BASIC, REG_CELLS, REG_HARDWARE, REG_MOSFET = 0x03, 0x04, 0x05, 0xE1
KELVIN_OFFSET = 2731  # NTC raw unit is 0.1 K

BASIC_INFO = (
    Field("voltage", 4, 2, scale=0.01, byteorder="big"),
    Field("current", 6, 2, signed=True, scale=0.01, byteorder="big"),
    Field("charge", 8, 2, scale=0.01, byteorder="big"),
    Field("capacity", 10, 2, scale=0.01, byteorder="big"),
    Field("cycles", 12, 2, byteorder="big"),
    Field("date", 14, 2, byteorder="big"),
    Field("balance_lo", 16, 2, byteorder="big"),  # cells 1–16, bit0 = cell 1
    Field("balance_hi", 18, 2, byteorder="big"),  # cells 17–32
    Field("protection_bits", 20, 2, byteorder="big"),
    Field("sw_version_byte", 22, 1),
    Field("soc", 23, 1),
    Field("fet", 24, 1),  # bit0 charge MOSFET on, bit1 discharge MOSFET on
    Field("cell_count", 25, 1),
    Field("ntc_count", 26, 1),
)
NTC_OFFSET = 27
# The table above in one C call (decode's hot path); a test checks it reads what the table reads.
_BASIC = struct.Struct(">HhHHHHHHHBBBBB")

PROTECTION_BITS: dict[int, Alarm] = {
    0: Alarm.CELL_OVERVOLTAGE,
    1: Alarm.CELL_UNDERVOLTAGE,
    2: Alarm.PACK_OVERVOLTAGE,
    3: Alarm.PACK_UNDERVOLTAGE,
    4: Alarm.CHARGE_OVERTEMP,
    5: Alarm.CHARGE_UNDERTEMP,
    6: Alarm.DISCHARGE_OVERTEMP,
    7: Alarm.DISCHARGE_UNDERTEMP,
    8: Alarm.CHARGE_OVERCURRENT,
    9: Alarm.DISCHARGE_OVERCURRENT,
    10: Alarm.SHORT_CIRCUIT,
    11: Alarm.BMS_FAULT,  # front-end IC error; bit 12 (software MOSFET lock) is no alarm
}


def checksum(body: bytes) -> int:
    return (0x10000 - sum(body)) & 0xFFFF


def _frame(second: int, body: bytes) -> bytes:
    return bytes([START, second]) + body + checksum(body).to_bytes(2, "big") + bytes([END])


def request(register: int, data: bytes = b"", write: bool = False) -> bytes:
    """A host request: ``request(0x03)`` → ``DD A5 03 00 FF FD 77``."""
    return _frame(WRITE if write else READ, bytes([register, len(data)]) + data)


def switch_request(charge: bool, discharge: bool) -> bytes:
    """Register 0xE1 takes a mask of what to switch OFF: bit0 charge, bit1 discharge."""
    mask = (0 if charge else 1) | (0 if discharge else 2)
    return request(REG_MOSFET, bytes([0, mask]), write=True)


def parse_request(data: bytes) -> tuple[int, bool, bytes] | None:
    """(register, is_write, data) of a valid host request, else None (used by the simulator)."""
    if len(data) < 7 or data[0] != START or data[-1] != END or data[1] not in (READ, WRITE):
        return None
    if len(data) != data[3] + 7 or checksum(data[2:-3]) != int.from_bytes(data[-3:-1], "big"):
        return None
    return data[2], data[1] == WRITE, bytes(data[4:-3])


def response(register: int, payload: bytes, status: int = 0) -> bytes:
    return _frame(register, bytes([status, len(payload)]) + payload)


def production_date(value: int) -> str:
    return f"{2000 + (value >> 9):04d}-{(value >> 5) & 0xF:02d}-{value & 0x1F:02d}"


def decode_basic_info(frame: bytes) -> tuple[dict[str, float], tuple[float, ...], bytes]:
    """(integer/scaled fields, NTC temperatures, optional extension bytes after the NTCs)."""
    require_length(frame, NTC_OFFSET + 3, "JBD basic info")
    v = read_table(BASIC_INFO, frame)
    temps, extension = _ntcs(frame, int(v["ntc_count"]))
    return v, temps, extension


def _ntcs(frame: bytes, ntc: int) -> tuple[tuple[float, ...], bytes]:
    end = 4 + frame[3]
    require_length(frame[:end], NTC_OFFSET + 2 * ntc, "JBD basic info NTCs")
    raw = struct.unpack_from(f">{ntc}H", frame, NTC_OFFSET)
    temps = tuple([round((t - KELVIN_OFFSET) / 10, 1) for t in raw])
    return temps, frame[NTC_OFFSET + 2 * ntc : end]


def decode_cells(frame: bytes) -> tuple[float, ...]:
    raw = struct.unpack_from(f">{min(frame[3], len(frame) - 4) // 2}H", frame, 4)
    return tuple([mv / 1000 for mv in raw])


@lru_cache(maxsize=64)
def _alarms(protection: int) -> frozenset[Alarm]:
    """Alarms of a protection word (cached: a pack sends the same word frame after frame)."""
    return frozenset(a for bit, a in PROTECTION_BITS.items() if protection >> bit & 1)


_production_date = lru_cache(maxsize=16)(production_date)


class JbdCodec(ResyncCodec):
    """Reassembles ``DD … 77`` replies; decodes a 0x03 reply plus an optional 0x04 reply."""

    name = "jbd"
    header = bytes([START])

    def frame_length(self, buf: bytearray) -> int | None:
        if len(buf) < 4:
            return None
        if buf[2] not in (0x00, 0x80):  # status byte: a 0xDD inside data, not a frame start
            return 0
        return buf[3] + 7

    def check(self, frame: bytes) -> str | None:
        if frame[-1] != END or checksum(frame[2:-3]) != int.from_bytes(frame[-3:-1], "big"):
            return f"reply 0x{frame[1]:02x}: checksum/end mismatch"
        return None

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        basic = [f for f in frames if len(f) > 4 and f[1] == REG_BASIC and f[2] == 0]
        if not basic:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid JBD basic-info (0x03) reply{detail}")
        frame = basic[-1]
        require_length(frame, NTC_OFFSET + 3, "JBD basic info")
        (
            voltage,
            current,
            charge,
            capacity,
            cycles,
            date,
            balance_lo,
            balance_hi,
            protection,
            sw_version,
            soc,
            fet,
            cell_count,
            ntc,
        ) = _BASIC.unpack_from(frame, 4)
        temps, extension = _ntcs(frame, ntc)
        cell_frames = [f for f in frames if len(f) > 4 and f[1] == REG_CELLS and f[2] == 0]
        cells = decode_cells(cell_frames[-1]) if cell_frames else ()
        balance = balance_hi << 16 | balance_lo
        extra: dict[str, ExtraValue] = {
            "cell_count": cell_count,
            "protection_bits": protection,
            "balance_bits": balance,
            "sw_version_byte": sw_version,
            "production_date": _production_date(date),
        }
        if extension:
            extra["extension_hex"] = extension.hex()
        return BatterySample(
            timestamp=timestamp,
            voltage_v=voltage / 100,  # = round(raw * 0.01, 6), the table's reading
            current_a=current / 100,
            soc_pct=soc,
            charge_ah=charge / 100,
            capacity_ah=capacity / 100,
            cycles=cycles,
            cell_voltages_v=cells,
            temperatures_c=temps,
            charge_enabled=bool(fet & 1),
            discharge_enabled=bool(fet & 2),
            balancing=balance != 0,
            alarms=_alarms(protection),
            extra=extra,
        )


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _u16(value: float, signed: bool = False) -> bytes:
    return round(value).to_bytes(2, "big", signed=signed)


def build_basic_info(sample: BatterySample, date: int = 0x2C7C, sw_version: int = 0x80) -> bytes:
    """A 0x03 reply carrying ``sample`` (the inverse of ``decode_basic_info``)."""
    protection = sum(1 << bit for bit, alarm in PROTECTION_BITS.items() if alarm in sample.alarms)
    fet = (1 if sample.charge_enabled else 0) | (2 if sample.discharge_enabled else 0)
    payload = b"".join(
        (
            _u16((sample.voltage_v or 0) * 100),
            _u16((sample.current_a or 0) * 100, signed=True),
            _u16((sample.charge_ah or 0) * 100),
            _u16((sample.capacity_ah or 0) * 100),
            _u16(sample.cycles or 0),
            _u16(date),
            _u16(1 if sample.balancing else 0),
            _u16(0),
            _u16(protection),
            bytes([sw_version, round(sample.soc_pct or 0), fet]),
            bytes([len(sample.cell_voltages_v), len(sample.temperatures_c)]),
            *(_u16(t * 10 + KELVIN_OFFSET) for t in sample.temperatures_c),
        )
    )
    return response(REG_BASIC, payload)


def build_cells(sample: BatterySample) -> bytes:
    return response(REG_CELLS, b"".join(_u16(v * 1000) for v in sample.cell_voltages_v))
