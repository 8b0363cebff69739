"""JK / Jikong BMS, "JK02" BLE protocol, 24-cell and 32-cell layouts.

Host → BMS: 20-byte commands ``AA 55 90 EB reg len value(u32le) 0×9 sum8``.
BMS → host: 300-byte frames ``55 AA EB 90 type counter ... sum8@299``; type 0x01 settings,
0x02 cell info (streamed after the 0x96 request), 0x03 device info, 0x05 logbook.
Notifications are arbitrary slices of the UART stream (20, 128, 150 bytes ...), may carry
junk or the tail of one frame plus the head of the next: reassembly resyncs on the header.

Cell-info layout (little endian, ``a`` = 0/16 and ``b`` = 0/32 for 24S/32S), e.g. vector
jk02_24s_5: bytes 118..121 ``3F D3 00 00`` → 54079 mV; 126..129 ``67 17 00 00`` → +5.991 A.

Temperature probes: byte 182+b is a presence mask (bit set = probe fitted; real packs send
0x07 in 24S frames and 0xFF, or 0x07 without extra probes, in 32S frames) and a missing probe
reads raw −2000 (−200 °C); both drop the probe. 32S frames of firmware ≥ 14 (PB packs) carry
T3/T4 at 256/258: battery probes like T1/T2. Older JK (JK04, float32 cells) is ``jk04.py``.
"""

from __future__ import annotations

import re
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
ABSENT_PROBE = -2000  # raw value of a probe that is not fitted (−200.0 °C)
EXTRA_PROBES_FROM = 14  # firmware major from which 32S frames carry T3/T4 (aiobmsble)

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


class JkLayoutError(ProtocolError):
    """A checksum-valid frame that does not fit the configured layout (wrong ``type:``)."""


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    cell_slots: int
    a: int  # shift of bytes 54..111
    b: int  # shift of bytes 112..
    mos_temp_offset: int
    alarm_offset: int
    alarm_size: int
    # (mask bit, offset, role) of each temperature probe. Bits 0..2 are MOSFET, T1, T2 in
    # both layouts (syssi's list; a real 24S frame with T1 = T2 = −2000 carries mask 0x01,
    # mpp-solar jk02.py test response 3 — aiobmsble's 24S order T1, T2, MOSFET does not fit
    # it); 32S bits 3..5 are bytes 254/256/258 in aiobmsble's order. Byte 254 repeats a
    # MOSFET reading (ble.md D-JK-1), so it is not a battery probe.
    probes: tuple[tuple[int, int, str], ...] = ()

    @property
    def cells(self) -> struct.Struct:
        return _CELL_STRUCTS[self.cell_slots]


_THOUSANDS = (1000,) * 32
_CELL_STRUCTS = {n: struct.Struct(f"<{n}H") for n in (24, 32)}
JK02_24S = Layout(
    "jk02_24s", 24, 0, 0, mos_temp_offset=134, alarm_offset=136, alarm_size=2,
    probes=((1, 130, "t1"), (2, 132, "t2"), (0, 134, "mos")),
)  # fmt: skip
JK02_32S = Layout(
    "jk02_32s", 32, 16, 32, mos_temp_offset=144, alarm_offset=166, alarm_size=4,
    probes=((0, 144, "mos"), (1, 162, "t1"), (2, 164, "t2"), (4, 256, "t3"), (5, 258, "t4")),
)  # fmt: skip
LAYOUTS = {layout.name: layout for layout in (JK02_24S, JK02_32S)}
# All probes of a layout in one unpack, in ``probes`` order: (struct, first offset).
_PROBE_READERS = {
    JK02_24S.name: (struct.Struct("<hhh"), 130),
    JK02_32S.name: (struct.Struct("<h16xhh90xhh"), 144),
}


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
    def firmware_major(self) -> int | None:
        try:
            return int(self.software.split(".")[0])
        except ValueError:
            return None

    @property
    def layout(self) -> Layout:
        """Firmware major < 11 → 24S layout, otherwise 32S (aiobmsble/batmon rule)."""
        major = self.firmware_major
        return JK02_32S if major is None or major >= 11 else JK02_24S

    @property
    def is_jk04(self) -> bool:
        """The old float32 protocol: firmware 3.x (JK-B2A16S/B2A24S hw 3.0) or a pure
        balancer model without the ``…P`` current rating (JK-B5A24S sw 8.0.3M; the JK02
        BD6A24S10P runs 8.0.6G, so the firmware alone cannot tell)."""
        major = self.firmware_major
        return (major is not None and major < 4) or _BALANCER_MODEL.match(self.model) is not None

    @property
    def extra_probes(self) -> bool:
        """32S frames carry battery probes T3/T4 from firmware 14 on (aiobmsble rule)."""
        major = self.firmware_major
        return major is not None and major >= EXTRA_PROBES_FROM


_BALANCER_MODEL = re.compile(r"^JK[-_]B\d+A\d+S$")


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


def looks_like_jk04(frame: bytes) -> bool:
    """JK04 cell frames hold float32 cell voltages: every non-zero word at 6 + 4i is a
    float between 0.5 and 5 V (bytes ``.. .. 56 40``). In a JK02 frame the same word is two
    mV readings, i.e. a float around 1e-31: the two never look alike."""
    values = [v for v in _FLOAT_CELLS.unpack_from(frame, 6) if v]
    return bool(values) and all(0.5 <= v <= 5.0 for v in values)  # NaN fails too


_FLOAT_CELLS = struct.Struct("<24f")


def _cells_mv(frame: bytes, layout: Layout) -> tuple[int, ...]:
    mask = int.from_bytes(frame[54 + layout.a : 58 + layout.a], "little")
    raw = _CELL_STRUCTS[layout.cell_slots].unpack_from(frame, 6)
    count = mask.bit_count() if mask else sum(1 for v in raw if v)
    return raw[:count]


def _voltage_fits(
    frame: bytes, layout: Layout, cells_mv: Sequence[int] | None = None
) -> bool | None:
    """Does the pack voltage at this layout's offset match the sum of its cells (within
    10 %, 1 V at least)? None when the cells cannot tell (all zero)."""
    total = sum(_cells_mv(frame, layout) if cells_mv is None else cells_mv)
    if not total:
        return None
    mv = int.from_bytes(frame[118 + layout.b : 122 + layout.b], "little")
    return abs(mv - total) <= max(total // 10, 1000)


def check_layout(frame: bytes, layout: Layout, cells_mv: Sequence[int] | None = None) -> None:
    """Raise ``JkLayoutError`` naming the likely cause when a cell frame clearly belongs to
    another layout than the configured one (silent garbage otherwise: 0 V, 16,384 Ah)."""
    fits = _voltage_fits(frame, layout, cells_mv)
    if fits:
        return
    if looks_like_jk04(frame):
        raise JkLayoutError(
            "looks like the old JK04 protocol (float32 cell voltages): use `type: jk04`"
            " (or `type: jk`)"
        )
    if fits is False:
        other = JK02_32S if layout is JK02_24S else JK02_24S
        if _voltage_fits(frame, other):
            cells = "32" if other is JK02_32S else "24"
            raise JkLayoutError(
                f"{layout.name}: looks like the {cells}-cell layout: use `type: jk`"
                f" (or `type: {other.name}`)"
            )


def _temperatures(
    frame: bytes, layout: Layout, extra_probes: bool | None
) -> tuple[tuple[float, ...], float | None]:
    """Battery probes (T1, T2[, T3, T4]) and the MOSFET temperature, absent ones dropped.

    ``extra_probes``: T3/T4 are read when True (firmware ≥ 14); when unknown (None) only if
    they hold a reading (older 32S firmware leaves 256/258 at 0 even with the mask at 0xFF).
    """
    reader, start = _PROBE_READERS[layout.name]
    mask = frame[182 + layout.b] or 0xFF  # 0: no presence information, trust the values
    temps: list[float] = []
    mos = None
    raws = reader.unpack_from(frame, start)
    for (bit, _offset, role), raw in zip(layout.probes, raws, strict=True):
        if raw == ABSENT_PROBE or not mask >> bit & 1:
            continue
        if role == "mos":
            mos = raw / 10
        elif role in ("t1", "t2") or extra_probes or (extra_probes is None and raw):
            temps.append(raw / 10)  # probes are listed T1, T2, T3, T4
    return tuple(temps), mos


def decode_cell_info(
    frame: bytes,
    layout: Layout,
    timestamp: float = 0.0,
    extra_probes: bool | None = None,
    check: bool = True,
) -> BatterySample:
    """``extra_probes``: whether the firmware carries T3/T4 (None: unknown, see
    ``_temperatures``); ``check``: refuse a frame that clearly belongs to another layout."""
    if len(frame) < FRAME_LEN:
        require_length(frame, FRAME_LEN, "JK cell info")  # raises TruncatedFrame
    if frame[4] != TYPE_CELLS:
        raise ProtocolError(f"JK frame type 0x{frame[4]:02x} is not cell info")
    b = layout.b
    cells_mv = _cells_mv(frame, layout)
    (mv, _mw, ma, _t1, _t2, bal_ma, balancing, soc, mah, cap_mah, cycles, cycle_mah, soh, _pre,
     _user, uptime, chg, dchg) = _TAIL.unpack_from(frame, 118 + b)  # fmt: skip
    total_mv = sum(cells_mv)
    if check and total_mv and abs(mv - total_mv) > max(total_mv // 10, 1000):
        check_layout(frame, layout, cells_mv)  # the voltage does not fit: which type fits?
    # x / 1000 of an integer is the nearest double to the decimal value: no rounding needed
    # (and map() keeps the per-cell loop in C).
    cells = tuple(map(truediv, cells_mv, _THOUSANDS))
    temperatures, mos = _temperatures(frame, layout, extra_probes if b else False)
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
        raw = _EXTRA_TEMPS.unpack_from(frame, 254)  # diagnostics; −2000 (no probe) left out
        extra["temperatures_extra_by_offset"] = {
            key: t / 10
            for key, t in zip(("254", "256", "258"), raw, strict=True)
            if t != ABSENT_PROBE
        }
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
        temperatures_c=temperatures,
        mos_temperature_c=mos,
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
        return self.decode_cell_frame(cell_frame, timestamp)

    @property
    def extra_probes(self) -> bool | None:
        return self.device_info.extra_probes if self.device_info else None

    def decode_cell_frame(self, frame: bytes, timestamp: float) -> BatterySample:
        layout = self.layout or guess_layout(frame)
        return decode_cell_info(frame, layout, timestamp, self.extra_probes)


class JkAutoCodec(JkCodec):
    """``type: jk``: JK04 or JK02 24S/32S, from the device info and confirmed by the frame
    (a float32 cell frame is JK04 whatever the firmware string says; a JK02 frame whose
    voltage only fits the other layout is read with that one)."""

    name = "jk"

    def decode_cell_frame(self, frame: bytes, timestamp: float) -> BatterySample:
        from batmux.protocols import jk04  # jk04 builds on this module

        layout = self.layout or guess_layout(frame)
        fits = _voltage_fits(frame, layout)
        said_jk04 = self.device_info is not None and self.device_info.is_jk04
        if (fits is not True or said_jk04) and looks_like_jk04(frame):
            return jk04.decode_cell_info(frame, timestamp)
        if fits is False:
            other = JK02_32S if layout is JK02_24S else JK02_24S
            layout = other if _voltage_fits(frame, other) else layout
        return decode_cell_info(frame, layout, timestamp, self.extra_probes, check=False)


class Jk24sCodec(JkCodec):
    name = "jk02_24s"
    fixed_layout = JK02_24S


class Jk32sCodec(JkCodec):
    name = "jk02_32s"
    fixed_layout = JK02_32S


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _finish(body: bytearray) -> bytes:
    body[299] = sum8(body[:299])
    return bytes(body)


def _put(buf: bytearray, offset: int, size: int, value: float, signed: bool = False) -> None:
    buf[offset : offset + size] = round(value).to_bytes(size, "little", signed=signed)


def _put_probes(buf: bytearray, sample: BatterySample, layout: Layout, extra: bool) -> None:
    """Probe readings and the presence mask as real packs send them: a probe the sample does
    not have reads −2000 with its bit clear; 32S firmware before 14 leaves 256/258 at 0
    with their bits set (mask 0xFF, fw 11.48 capture); 32S bits 3, 6, 7 are always set."""
    temps = sample.temperatures_c
    values = {"mos": sample.mos_temperature_c}
    values |= {role: temps[i] for i, role in enumerate(("t1", "t2", "t3", "t4")) if i < len(temps)}
    mask = 0xC8 if layout.b else 0
    for bit, offset, role in layout.probes:
        value = values.get(role)
        if role in ("t3", "t4") and not extra:
            mask |= 1 << bit  # carried as 0 by older firmware
            continue
        if value is None:
            _put(buf, offset, 2, ABSENT_PROBE, signed=True)
        else:
            _put(buf, offset, 2, value * 10, signed=True)
            mask |= 1 << bit
    buf[182 + layout.b] = mask
    if layout.b:  # 254: a copy of the MOSFET temperature (ble.md D-JK-1)
        buf[254:256] = buf[layout.mos_temp_offset : layout.mos_temp_offset + 2]


def build_cell_info(
    sample: BatterySample, layout: Layout, counter: int = 0, extra_probes: bool = False
) -> bytes:
    """A cell-info frame carrying ``sample`` (the inverse of ``decode_cell_info``);
    ``extra_probes``: firmware ≥ 14, T3/T4 = the sample's third and fourth temperature."""
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
    _put(buf, 118 + b, 4, (sample.voltage_v or 0) * 1000)
    _put(buf, 122 + b, 4, abs(sample.power_w or 0) * 1000)
    _put(buf, 126 + b, 4, (sample.current_a or 0) * 1000, signed=True)
    _put_probes(buf, sample, layout, extra_probes)
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
