"""Daly "Modbus-like" ``D2 03`` BLE protocol (H-series / ``DL-…`` modules, 2022+).

Host → BMS: ``D2 func addr(2, BE) value(2, BE) crc_lo crc_hi`` (CRC-16/MODBUS over 6 bytes);
func 0x03 reads ``value`` registers from ``addr``, func 0x06 writes one register.
BMS → host: ``D2 03 count data[count] crc_lo crc_hi`` for a read (big-endian registers),
an echo of the 8-byte request for a write. Replies of 129/165 bytes span many notifications
on a default MTU, so reassembly goes by the byte count.

Status block (register r at frame byte 3 + 2r), e.g. vector daly_modbus_1: reg 0x28
``02 0D`` → 52.5 V, reg 0x29 ``75 11`` → (29969 − 30000) × 0.1 = −3.1 A (positive = charging
natively; the state register 0x2F agrees), reg 0x2A ``02 12`` → 53.0 %.

Fault registers 0x3A–0x3D are big-endian like every register; the vendor's "byte 0" of a
register is its low byte. Register 0x3A low byte = the classic 0x98 data byte 0, 0x3A high
byte = data byte 1, 0x3B low = byte 2 … (Daly's register table, syssi/esphome-daly-bms ERRORS).
A probe in ice water (syssi/esphome-daly-bms#20) sent reg 0x3B = ``0C 00``: temperature
difference level 1 + 2 (classic bits 26, 27), not a discharge overcurrent.

MOS temperature: register 0x42, read as the field's readers do with a second, 9-register read
from 0x3E (``D2 03 00 3E 00 09 F7 A3``; its reply is the only one with 18 data bytes). A raw
0x0000 or 0xFFFF is an absent sensor (BMS_BLE-HA#70 all-zero reply; #55 0xFFFF board probe).
"""

from __future__ import annotations

from collections.abc import Sequence

from batmux.errors import ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.base import Field, ResyncCodec, modbus_crc16, read_table
from batmux.protocols.daly import FAULT_ALARMS, FAULT_WARNINGS

START, READ, WRITE = 0xD2, 0x03, 0x06
STATUS_REGS, STATUS_REGS_LONG = 0x3E, 0x50  # 62 or 80 registers from 0
SETTINGS_START, SETTINGS_REGS = 0x80, 0x29
MOS_START, MOS_REGS = 0x3E, 9  # balance bits, balance current, MOS and board temperature
NO_PROBE = (0x0000, 0xFFFF)  # raw values of an absent temperature sensor
REG_CHARGE_SWITCH, REG_DISCHARGE_SWITCH, REG_BALANCE_SWITCH = 0xA5, 0xA6, 0xCF
SWITCH_REGISTERS = {
    "charge": REG_CHARGE_SWITCH,
    "discharge": REG_DISCHARGE_SWITCH,
    "balance": REG_BALANCE_SWITCH,
}
OFFSET_A, OFFSET_T = 30000, 40
MAX_CELLS, MAX_TEMPS = 32, 8


def _reg(name: str, register: int, scale: float = 1.0) -> Field:
    return Field(name, 3 + 2 * register, 2, scale=scale, byteorder="big")


STATUS = (
    _reg("voltage", 0x28, 0.1),
    _reg("current_raw", 0x29),
    _reg("soc", 0x2A, 0.1),
    _reg("state", 0x2F),  # 0 idle, 1 charging, 2 discharging
    _reg("charge", 0x30, 0.1),
    _reg("cell_count", 0x31),
    _reg("temperature_sensor_count", 0x32),
    _reg("cycles", 0x33),
    _reg("balancing", 0x34),
    _reg("charge_mos", 0x35),
    _reg("discharge_mos", 0x36),
    _reg("delta_cell_mv", 0x38),
)
FAULT_REGS = range(0x3A, 0x3E)
# The classic 0x98 table, less 0x3D (reserved here); 0x3C bits 0/1 are named "MOS
# over-temperature WARNING" in Daly's D2 register table, so they are warnings, not alarms.
D2_MOS_WARNINGS = {32: Alarm.MOS_OVERTEMP, 33: Alarm.MOS_OVERTEMP}
D2_FAULT_ALARMS = {b: a for b, a in FAULT_ALARMS.items() if b < 48 and b not in D2_MOS_WARNINGS}
D2_FAULT_WARNINGS = {b: a for b, a in FAULT_WARNINGS.items() if b < 48} | D2_MOS_WARNINGS
SETTINGS = (Field("rated_capacity", 3, 2, scale=0.1, byteorder="big"),)  # reg 0x80


def frame_with_crc(body: bytes) -> bytes:
    return body + modbus_crc16(body).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    return len(frame) > 2 and modbus_crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def read_request(start: int = 0, count: int = STATUS_REGS_LONG) -> bytes:
    """``read_request(0, 0x3E)`` → ``D2 03 00 00 00 3E D7 B9``."""
    return frame_with_crc(
        bytes([START, READ]) + start.to_bytes(2, "big") + count.to_bytes(2, "big")
    )


def write_request(register: int, value: int) -> bytes:
    return frame_with_crc(
        bytes([START, WRITE]) + register.to_bytes(2, "big") + value.to_bytes(2, "big")
    )


def switch_request(switch: str, on: bool) -> bytes:
    return write_request(SWITCH_REGISTERS[switch], 1 if on else 0)


def parse_request(data: bytes) -> tuple[int, int, int] | None:
    """(func, address, value) of a valid host request, else None (simulator side)."""
    if len(data) != 8 or data[0] != START or data[1] not in (READ, WRITE) or not crc_ok(data):
        return None
    return data[1], int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:6], "big")


def is_status(frame: bytes) -> bool:
    return frame[1] == READ and frame[2] >= 2 * STATUS_REGS


def is_settings(frame: bytes) -> bool:
    return frame[1] == READ and frame[2] == 2 * SETTINGS_REGS


def is_mos_block(frame: bytes) -> bool:
    return frame[1] == READ and frame[2] == 2 * MOS_REGS


MOS_REQUEST = read_request(MOS_START, MOS_REGS)


def _register(frame: bytes, first: int, register: int) -> int:
    at = 3 + 2 * (register - first)
    return int.from_bytes(frame[at : at + 2], "big")


def mos_temperature_raw(mos_block: bytes) -> int:
    return _register(mos_block, MOS_START, 0x42)


def _probe(raw: int) -> float | None:
    return None if raw in NO_PROBE else float(raw - OFFSET_T)


def fault_bits(frame: bytes) -> int:
    """Registers 0x3A–0x3D as one number in the classic 0x98 bit order (0x3A low byte first)."""
    return sum(_register(frame, 0, r) << 16 * i for i, r in enumerate(FAULT_REGS))


class DalyModbusCodec(ResyncCodec):
    """Reassembles ``D2`` replies by byte count; remembers the rated capacity from settings."""

    name = "daly_modbus"
    header = bytes([START])

    def __init__(self) -> None:
        super().__init__()
        self.rated_capacity_ah: float | None = None

    def frame_length(self, buf: bytearray) -> int | None:
        if len(buf) < 3:
            return None
        if buf[1] not in (READ, WRITE):
            return 0
        return 8 if buf[1] == WRITE else buf[2] + 5

    def check(self, frame: bytes) -> str | None:
        return None if crc_ok(frame) else f"reply ({len(frame)} bytes): CRC mismatch"

    def on_frame(self, frame: bytes) -> None:
        if is_settings(frame):
            self.rated_capacity_ah = read_table(SETTINGS, frame)["rated_capacity"]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        for f in frames:
            if is_settings(f):
                self.rated_capacity_ah = read_table(SETTINGS, f)["rated_capacity"]
        status = [f for f in frames if len(f) > 3 and is_status(f)]
        if not status:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid Daly D2 status-block reply{detail}")
        mos = [f for f in frames if len(f) == 2 * MOS_REGS + 5 and is_mos_block(f)]
        return decode_status(
            status[-1], timestamp, self.rated_capacity_ah, mos[-1] if mos else None
        )


def decode_status(
    frame: bytes, timestamp: float, capacity_ah: float | None, mos_block: bytes | None = None
) -> BatterySample:
    """The sample of a 62/80-register status reply; ``mos_block`` is the 9-register reply from
    0x3E (it fills the MOS temperature when the status reply is the short one)."""
    if len(frame) < 2 * STATUS_REGS + 5:
        raise TruncatedFrame(f"Daly D2 status: {len(frame)} bytes")
    v = read_table(STATUS, frame)
    cells = min(int(v["cell_count"]), MAX_CELLS)
    n_temps = min(int(v["temperature_sensor_count"]), MAX_TEMPS)
    regs = [int.from_bytes(frame[3 + 2 * r : 5 + 2 * r], "big") for r in range(0x28)]
    temps = [_probe(t) for t in regs[0x20 : 0x20 + n_temps]]
    alarm_bits = fault_bits(frame)
    extra: dict[str, ExtraValue] = {
        "state": int(v["state"]),
        "cell_count": cells,
        "temperature_sensor_count": n_temps,
        "delta_cell_mv": int(v["delta_cell_mv"]),
        "alarm_bits": alarm_bits,
    }
    if None in temps:
        extra["absent_probes"] = ",".join(str(i + 1) for i, t in enumerate(temps) if t is None)
    mos_temp: float | None = None
    if len(frame) >= 2 * STATUS_REGS_LONG + 5:
        mos_block, first = frame, 0
    else:
        first = MOS_START
    if mos_block is not None:
        mos_temp = _probe(_register(mos_block, first, 0x42))
        extra["balance_current"] = (_register(mos_block, first, 0x40) - OFFSET_A) / 1000
        balance_hi = _register(mos_block, first, 0x3F)
        extra["balance_bits"] = balance_hi << 16 | _register(mos_block, first, 0x3E)
        if (board := _probe(_register(mos_block, first, 0x43))) is not None:
            extra["board_temperature"] = board
    return BatterySample(
        timestamp=timestamp,
        voltage_v=v["voltage"],
        current_a=round((v["current_raw"] - OFFSET_A) * 0.1, 1) + 0.0,
        soc_pct=v["soc"],
        charge_ah=v["charge"],
        capacity_ah=capacity_ah,
        cycles=int(v["cycles"]),
        cell_voltages_v=tuple(mv / 1000 for mv in regs[:cells]),
        temperatures_c=tuple(t for t in temps if t is not None),
        mos_temperature_c=mos_temp,
        charge_enabled=bool(v["charge_mos"]),
        discharge_enabled=bool(v["discharge_mos"]),
        balancing=bool(v["balancing"]),
        alarms=frozenset(a for bit, a in D2_FAULT_ALARMS.items() if alarm_bits >> bit & 1),
        warnings=frozenset(a for bit, a in D2_FAULT_WARNINGS.items() if alarm_bits >> bit & 1),
        extra=extra,
    )


# -- encoders (the device side, used by the simulator) ---------------------------------------


def read_reply(registers: Sequence[int]) -> bytes:
    data = b"".join(max(0, min(0xFFFF, round(r))).to_bytes(2, "big") for r in registers)
    return frame_with_crc(bytes([START, READ, len(data)]) + data)


def status_registers(sample: BatterySample) -> list[int]:
    """The 80 status registers (0x00–0x4F) that carry ``sample``."""
    regs = [0] * STATUS_REGS_LONG
    cells = sample.cell_voltages_v[:MAX_CELLS]
    temps = sample.temperatures_c[:MAX_TEMPS]
    current = sample.current_a or 0.0
    for i, volts in enumerate(cells):
        regs[i] = round(volts * 1000)
    for i, t in enumerate(temps):
        regs[0x20 + i] = round(t + OFFSET_T)
    regs[0x28] = round((sample.voltage_v or 0) * 10)
    regs[0x29] = round(current * 10 + OFFSET_A)
    regs[0x2A] = round((sample.soc_pct or 0) * 10)
    if cells:
        regs[0x2B], regs[0x2C] = round(max(cells) * 1000), round(min(cells) * 1000)
        regs[0x37] = round(sum(cells) / len(cells) * 1000)
        regs[0x38] = round((max(cells) - min(cells)) * 1000)
    if temps:
        regs[0x2D], regs[0x2E] = round(max(temps) + OFFSET_T), round(min(temps) + OFFSET_T)
    regs[0x2F] = 1 if current > 0 else 2 if current < 0 else 0
    regs[0x30] = round((sample.charge_ah or 0) * 10)
    regs[0x31], regs[0x32] = len(cells), len(temps)
    regs[0x33] = int(sample.cycles or 0)
    regs[0x34] = int(bool(sample.balancing))
    regs[0x35], regs[0x36] = int(bool(sample.charge_enabled)), int(bool(sample.discharge_enabled))
    regs[0x39] = round(abs(sample.power_w or 0))
    bits = sum(1 << b for b, a in D2_FAULT_ALARMS.items() if a in sample.alarms)
    bits |= sum(1 << b for b, a in D2_FAULT_WARNINGS.items() if a in sample.warnings)
    for i, register in enumerate(FAULT_REGS):
        regs[register] = bits >> 16 * i & 0xFFFF
    regs[0x40] = OFFSET_A
    mos = sample.mos_temperature_c
    regs[0x42] = NO_PROBE[0] if mos is None else round(mos + OFFSET_T)
    regs[0x43:0x47] = [0xFFFF] * 4  # no board probe, as in BMS_BLE-HA#55's MOS-block reply
    return regs


def settings_registers(capacity_ah: float, charge: bool, discharge: bool) -> list[int]:
    regs = [0] * SETTINGS_REGS
    regs[0] = round(capacity_ah * 10)
    regs[REG_CHARGE_SWITCH - SETTINGS_START] = int(charge)
    regs[REG_DISCHARGE_SWITCH - SETTINGS_START] = int(discharge)
    return regs
