"""JK / Jikong BMS, "JK02" BLE protocol, 24-cell and 32-cell layouts.

Host → BMS: 20-byte commands ``AA 55 90 EB reg len value(u32le) 0×9 sum8``.
BMS → host: 300-byte frames ``55 AA EB 90 type counter ... sum8@299``; type 0x01 settings,
0x02 cell info (streamed after the 0x96 request), 0x03 device info, 0x05 logbook.
Notifications are arbitrary slices of the UART stream (20, 128, 150 bytes ...), may carry
junk or the tail of one frame plus the head of the next: reassembly resyncs on the header.

Cell-info layout (little endian, ``a`` = 0/16 and ``b`` = 0/32 for 24S/32S), e.g. vector
jk02_24s_5: bytes 118..121 ``3F D3 00 00`` → 54079 mV; 126..129 ``67 17 00 00`` → +5.991 A.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from operator import truediv

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Field, ResyncCodec, require_length, sum8

HEADER = bytes.fromhex("55aaeb90")
COMMAND_HEADER = bytes.fromhex("aa5590eb")
FRAME_LEN = 300
FRAME_TYPES = {0x01, 0x02, 0x03, 0x05}
TYPE_SETTINGS, TYPE_CELLS, TYPE_DEVICE = 0x01, 0x02, 0x03

REG_DEVICE_INFO = 0x97
REG_CELL_INFO = 0x96
REG_CHARGE = 0x1D
REG_DISCHARGE = 0x1E
REG_BALANCE = 0x1F
SWITCH_REGISTERS = {"charge": REG_CHARGE, "discharge": REG_DISCHARGE, "balance": REG_BALANCE}

# Fields at or after byte 112 move by ``b`` (0 for 24S, 32 for 32S); read in one unpack from
# 118 + b. The table is the layout; the compiled struct below must list the same fields.
CELL_INFO_TAIL = (
    Field("voltage", 118, 4, scale=0.001),  # mV
    Field("power_unsigned", 122, 4),  # mW, unsigned: never used for direction
    Field("current", 126, 4, signed=True, scale=0.001),  # mA, + = charging
    Field("t1", 130, 2, signed=True, scale=0.1),
    Field("t2", 132, 2, signed=True, scale=0.1),
    # 134..137: 24S MOSFET temperature + alarms; read separately per layout
    Field("balance_current", 138, 2, signed=True, scale=0.001),
    Field("balancing", 140, 1),
    Field("soc", 141, 1),
    Field("charge", 142, 4, scale=0.001),  # mAh
    Field("capacity", 146, 4, scale=0.001),  # mAh
    Field("cycles", 150, 4),
    Field("cycle_capacity_ah", 154, 4, scale=0.001),
    Field("soh", 158, 1),
    Field("precharge", 159, 1),
    Field("user_alarm", 160, 2),
    Field("uptime_s", 162, 4),
    Field("charge_enabled", 166, 1),
    Field("discharge_enabled", 167, 1),
)
_TAIL = struct.Struct("<IIihh4xhBBIIIIBBHIBB")
assert _TAIL.size == 168 - 118
_EXTRA_TEMPS = struct.Struct("<hhh")  # 32S bytes 254/256/258, naming disputed (ble.md D-JK-1)

# Alarm bits (24S u16@136, 32S u32@166) → normalized alarms.
ALARM_BITS: dict[int, Alarm] = {
    1: Alarm.MOS_OVERTEMP,
    5: Alarm.PACK_OVERVOLTAGE,
    6: Alarm.CHARGE_OVERCURRENT,
    7: Alarm.SHORT_CIRCUIT,
    8: Alarm.CHARGE_OVERTEMP,
    9: Alarm.CHARGE_UNDERTEMP,
    11: Alarm.CELL_UNDERVOLTAGE,
    12: Alarm.PACK_UNDERVOLTAGE,
    13: Alarm.DISCHARGE_OVERCURRENT,
    14: Alarm.SHORT_CIRCUIT,
    15: Alarm.DISCHARGE_OVERTEMP,
    16: Alarm.BMS_FAULT,
    17: Alarm.BMS_FAULT,
    21: Alarm.DISCHARGE_OVERTEMP,
    22: Alarm.SENSOR_FAULT,
    25: Alarm.DISCHARGE_OVERCURRENT,
    26: Alarm.DISCHARGE_OVERCURRENT,
    27: Alarm.DISCHARGE_UNDERTEMP,
}


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    cell_slots: int
    a: int  # shift of bytes 54..111
    b: int  # shift of bytes 112..
    mos_temp_offset: int
    alarm_offset: int
    alarm_size: int

    @property
    def cells(self) -> struct.Struct:
        return _CELL_STRUCTS[self.cell_slots]


_THOUSANDS = (1000,) * 32
_CELL_STRUCTS = {n: struct.Struct(f"<{n}H") for n in (24, 32)}
JK02_24S = Layout("jk02_24s", 24, 0, 0, mos_temp_offset=134, alarm_offset=136, alarm_size=2)
JK02_32S = Layout("jk02_32s", 32, 16, 32, mos_temp_offset=144, alarm_offset=166, alarm_size=4)


def command(register: int, value: int = 0, length: int = 0) -> bytes:
    """One 20-byte host command with zero padding."""
    body = COMMAND_HEADER + bytes([register, length]) + value.to_bytes(4, "little") + bytes(9)
    return body + bytes([sum8(body)])


def switch_command(switch: str, on: bool) -> bytes:
    return command(SWITCH_REGISTERS[switch], 1 if on else 0, 4)


def parse_command(data: bytes) -> tuple[int, int] | None:
    """(register, value) of a host command, or None if it is not one (used by the simulator)."""
    if len(data) != 20 or not data.startswith(COMMAND_HEADER) or sum8(data[:19]) != data[19]:
        return None
    return data[4], int.from_bytes(data[6:10], "little")


def _text(frame: bytes, start: int, end: int) -> str:
    return frame[start:end].split(b"\x00", 1)[0].decode("ascii", "replace").strip()


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    model: str
    hardware: str
    software: str
    name: str = ""
    serial: str = ""
    uptime_s: int = 0
    power_on_count: int = 0

    @property
    def layout(self) -> Layout:
        """Firmware major < 11 → 24S layout, otherwise 32S (aiobmsble/batmon rule)."""
        try:
            major = int(self.software.split(".")[0])
        except ValueError:
            return JK02_32S
        return JK02_24S if major < 11 else JK02_32S


def decode_device_info(frame: bytes) -> DeviceInfo:
    require_length(frame, 97, "JK device info")
    return DeviceInfo(
        model=_text(frame, 6, 22),
        hardware=_text(frame, 22, 30),
        software=_text(frame, 30, 38),
        uptime_s=int.from_bytes(frame[38:42], "little"),
        power_on_count=int.from_bytes(frame[42:46], "little"),
        name=_text(frame, 46, 62),
        serial=_text(frame, 86, 97),
    )


def guess_layout(frame: bytes) -> Layout:
    """Without device info: 32S frames carry 0xFE at byte 287, 24S frames 0."""
    return JK02_32S if frame[287] > 0 else JK02_24S


def decode_cell_info(frame: bytes, layout: Layout, timestamp: float = 0.0) -> BatterySample:
    if len(frame) < FRAME_LEN:
        require_length(frame, FRAME_LEN, "JK cell info")  # raises TruncatedFrame
    if frame[4] != TYPE_CELLS:
        raise ProtocolError(f"JK frame type 0x{frame[4]:02x} is not cell info")
    a, b = layout.a, layout.b
    mask = int.from_bytes(frame[54 + a : 58 + a], "little")
    raw_cells = _CELL_STRUCTS[layout.cell_slots].unpack_from(frame, 6)
    count = mask.bit_count() if mask else sum(1 for v in raw_cells if v)
    # x / 1000 of an integer is the nearest double to the decimal value: no rounding needed
    # (and map() keeps the per-cell loop in C).
    cells = tuple(map(truediv, raw_cells[:count], _THOUSANDS))
    (mv, _mw, ma, t1, t2, bal_ma, balancing, soc, mah, cap_mah, cycles, cycle_mah, soh, _pre,
     _user, uptime, chg, dchg) = _TAIL.unpack_from(frame, 118 + b)  # fmt: skip
    mos = int.from_bytes(frame[layout.mos_temp_offset : layout.mos_temp_offset + 2], "little",
                         signed=True)  # fmt: skip
    alarm_bits = int.from_bytes(
        frame[layout.alarm_offset : layout.alarm_offset + layout.alarm_size], "little"
    )
    extra: dict[str, object] = {
        "soh": soh,
        "balance_current": bal_ma / 1000,
        "alarm_bits": alarm_bits,
        "cycle_capacity_ah": cycle_mah / 1000,
        "uptime_s": uptime,
    }
    if b:
        extra["heating"] = bool(frame[183 + b])
        t254, t256, t258 = _EXTRA_TEMPS.unpack_from(frame, 254)
        extra["temperatures_extra_by_offset"] = {"254": t254 / 10, "256": t256 / 10,
                                                 "258": t258 / 10}  # fmt: skip
    alarms = (
        frozenset([a for bit, a in ALARM_BITS.items() if alarm_bits >> bit & 1])
        if alarm_bits
        else frozenset()
    )
    return BatterySample(
        timestamp=timestamp,
        voltage_v=mv / 1000,
        current_a=ma / 1000,
        soc_pct=soc,
        charge_ah=mah / 1000,
        capacity_ah=cap_mah / 1000,
        cycles=cycles,
        cell_voltages_v=cells,
        temperatures_c=(t1 / 10, t2 / 10),
        mos_temperature_c=mos / 10,
        charge_enabled=chg != 0,
        discharge_enabled=dchg != 0,
        balancing=balancing != 0,
        soh_pct=soh,
        alarms=alarms,
        extra=extra,  # type: ignore[arg-type]
    )


class JkCodec(ResyncCodec):
    """Reassembles JK02 frames; decodes with a fixed layout or one detected from device info."""

    name = "jk"
    header = HEADER
    fixed_layout: Layout | None = None
    max_buffer = 4096

    def __init__(self) -> None:
        super().__init__()
        self.device_info: DeviceInfo | None = None
        self.nominal_capacity_ah: float | None = None

    @property
    def layout(self) -> Layout | None:
        if self.fixed_layout is not None:
            return self.fixed_layout
        return self.device_info.layout if self.device_info else None

    def frame_length(self, buf: bytearray) -> int | None:
        return FRAME_LEN  # some modules send 320 bytes: the tail is skipped by the resync

    def check(self, frame: bytes) -> str | None:
        if sum8(memoryview(frame)[:299]) != frame[299] or frame[4] not in FRAME_TYPES:
            return f"frame checksum/type mismatch (type 0x{frame[4]:02x})"
        return None

    def on_frame(self, frame: bytes) -> None:
        if frame[4] == TYPE_DEVICE:
            self.device_info = decode_device_info(frame)
        elif frame[4] == TYPE_SETTINGS:
            self.nominal_capacity_ah = int.from_bytes(frame[130:134], "little") / 1000

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        cell_frame = None
        for frame in frames:
            kind = frame[4] if len(frame) > 4 else None
            if kind == TYPE_CELLS:
                cell_frame = frame  # the newest one wins
            elif kind == TYPE_DEVICE and self.device_info is None:
                self.device_info = decode_device_info(frame)
        if cell_frame is None:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid JK cell-info frame{detail}")
        return decode_cell_info(cell_frame, self.layout or guess_layout(cell_frame), timestamp)


class JkAutoCodec(JkCodec):
    name = "jk"


class Jk24sCodec(JkCodec):
    name = "jk02_24s"
    fixed_layout = JK02_24S
    layout_hint = "`type: jk02_24s` forces the 24-cell layout: `type: jk` detects it"


class Jk32sCodec(JkCodec):
    name = "jk02_32s"
    fixed_layout = JK02_32S
    layout_hint = "`type: jk02_32s` forces the 32-cell layout: `type: jk` detects it"


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _finish(body: bytearray) -> bytes:
    body[299] = sum8(body[:299])
    return bytes(body)


def _put(buf: bytearray, offset: int, size: int, value: float, signed: bool = False) -> None:
    buf[offset : offset + size] = round(value).to_bytes(size, "little", signed=signed)


def build_cell_info(sample: BatterySample, layout: Layout, counter: int = 0) -> bytes:
    """A cell-info frame carrying ``sample`` (the inverse of ``decode_cell_info``)."""
    buf = bytearray(FRAME_LEN)
    buf[0:4] = HEADER
    buf[4] = TYPE_CELLS
    buf[5] = counter & 0xFF
    cells = sample.cell_voltages_v[: layout.cell_slots]
    for i, volts in enumerate(cells):
        _put(buf, 6 + 2 * i, 2, volts * 1000)
    _put(buf, 54 + layout.a, 4, (1 << len(cells)) - 1)
    if cells:
        _put(buf, 58 + layout.a, 2, sum(cells) / len(cells) * 1000)
        _put(buf, 60 + layout.a, 2, (max(cells) - min(cells)) * 1000)
        buf[62 + layout.a] = cells.index(max(cells))
        buf[63 + layout.a] = cells.index(min(cells))
    b = layout.b
    _put(buf, layout.mos_temp_offset, 2, (sample.mos_temperature_c or 0) * 10, signed=True)
    _put(buf, 118 + b, 4, (sample.voltage_v or 0) * 1000)
    _put(buf, 122 + b, 4, abs(sample.power_w or 0) * 1000)
    _put(buf, 126 + b, 4, (sample.current_a or 0) * 1000, signed=True)
    temps = [*sample.temperatures_c, 0.0, 0.0]
    _put(buf, 130 + b, 2, temps[0] * 10, signed=True)
    _put(buf, 132 + b, 2, temps[1] * 10, signed=True)
    alarm_bits = sum(1 << bit for bit, alarm in ALARM_BITS.items() if alarm in sample.alarms)
    _put(buf, layout.alarm_offset, layout.alarm_size, alarm_bits)
    buf[140 + b] = 1 if sample.balancing else 0
    buf[141 + b] = round(sample.soc_pct or 0)
    _put(buf, 142 + b, 4, (sample.charge_ah or 0) * 1000)
    _put(buf, 146 + b, 4, (sample.capacity_ah or 0) * 1000)
    _put(buf, 150 + b, 4, sample.cycles or 0)
    buf[158 + b] = int(sample.soh_pct or 100)
    buf[166 + b] = 1 if sample.charge_enabled else 0
    buf[167 + b] = 1 if sample.discharge_enabled else 0
    if layout is JK02_32S:
        buf[287] = 0xFE
        _put(buf, 254, 2, (sample.mos_temperature_c or 0) * 10, signed=True)
    return _finish(buf)


def build_device_info(info: DeviceInfo, counter: int = 0) -> bytes:
    buf = bytearray(FRAME_LEN)
    buf[0:4] = HEADER
    buf[4] = TYPE_DEVICE
    buf[5] = counter & 0xFF

    def text(start: int, end: int, value: str) -> None:
        raw = value.encode("ascii")[: end - start]
        buf[start : start + len(raw)] = raw

    text(6, 22, info.model)
    text(22, 30, info.hardware)
    text(30, 38, info.software)
    _put(buf, 38, 4, info.uptime_s)
    _put(buf, 42, 4, info.power_on_count)
    text(46, 62, info.name)
    text(86, 97, info.serial)
    return _finish(buf)


def build_settings(
    cell_count: int,
    nominal_capacity_ah: float,
    charge: bool,
    discharge: bool,
    balance: bool,
    counter: int = 0,
) -> bytes:
    buf = bytearray(FRAME_LEN)
    buf[0:4] = HEADER
    buf[4] = TYPE_SETTINGS
    buf[5] = counter & 0xFF
    _put(buf, 114, 4, cell_count)
    _put(buf, 118, 4, int(charge))
    _put(buf, 122, 4, int(discharge))
    _put(buf, 126, 4, int(balance))
    _put(buf, 130, 4, nominal_capacity_ah * 1000)
    return _finish(buf)


READY_MESSAGE = bytes.fromhex("aa5590ebc8010100000000000000000000000044")
