"""ANT BMS, 2021+ BLE protocol (``7E A1 … AA 55``).

Host → BMS (10 bytes): ``7E A1 func addr_lo addr_hi value crc_lo crc_hi AA 55``.
BMS → host: ``7E A1 func|0x10 addr(2, LE) len data[len] crc_lo crc_hi AA 55`` (len + 10 bytes);
CRC-16/MODBUS over bytes 1 .. 5+len. Replies to reads (0x12 device info, 0x42 settings) carry
a 6-byte block between that CRC and ``AA 55``: 4 bytes and their own CRC, e.g. the 16ZM's
device info (syssi/esphome-ant-bms docs/pdus) ``7E A1 12 6C 02 20 <32 bytes> 72 08 | FF 0B 00
00 41 F2 | AA 55`` (CRC-16/MODBUS(FF 0B 00 00) = 0xF241). Their length byte is right; the frame is
len + 16 bytes. One 20-byte notification may hold the end of one frame and the start of the
next, and a reply that cannot be framed is dropped at once, never waited on.

Status (0x11), little endian, ``N_C`` cells at byte 9, ``N_T`` probes at byte 8,
``B = 38 + 2·N_C + 2·N_T``; e.g. vector ant_1 (16 cells, 2 probes, B = 74): bytes 74..77
``A4 14 03 00`` → 52.84 V, raw current +0.3 A. Raw positive = DISCHARGING (ble.md 4.4), so
the current is negated here.

An absent temperature probe reads ``D8 FF`` (−40 °C): the 14S pack in syssi/esphome-ant-bms
docs/pdus/model2021-req-7ea1010000be1855aa55.txt counts 4 probes and sends 28, 28, −40, 28 °C.
Such probes are dropped (their 1-based numbers go to ``absent_probes``), and a MOS or balancer
sensor reading −40 becomes None.

MOSFET status bytes: B+8 is the DISCHARGE MOSFET, B+9 the CHARGE MOSFET (as batmon-ha reads
them; syssi and aiobmsble read the other way). In the official app's btsnoop log
(syssi/esphome-ant-bms docs/btsnoop_hci_ANT-BLE24BHUB-commands.log) writing register 0x01
(discharge off) turns B+8 to 0x0F "manually off" and 0x03 back to 1, while 0x04/0x06 (charge
off/on) move B+9; and two full packs (the 14S pdus above at 4.113 V/cell, batmon-ha's 8S
fixture at 3.54 V/cell, SoC 96–100 %) send B+9 = 2, "overcharge protection".
"""

from __future__ import annotations

from collections.abc import Sequence

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.base import (
    Field,
    ResyncCodec,
    modbus_crc16,
    read_table,
    require_length,
)

HEADER, TRAILER = b"\x7e\xa1", b"\xaa\x55"
FUNC_STATUS, FUNC_DEVICE_INFO, FUNC_WRITE = 0x01, 0x02, 0x51
REPLY_STATUS, REPLY_DEVICE_INFO, REPLY_WRITE = 0x11, 0x12, 0x61
MAX_FRAME = 300
NO_PROBE = -40  # °C, what the BMS sends for a temperature probe that is not fitted
TAIL_BLOCK = 6  # the 4 bytes + CRC between a read reply's CRC and its trailer

# (register for on, register for off); the value byte is 0 (syssi switch table, app captures).
SWITCH_REGISTERS = {"charge": (0x0006, 0x0004), "discharge": (0x0003, 0x0001),
                    "balance": (0x000D, 0x000E)}  # fmt: skip

# Offsets relative to B (after cells and temperature probes).
STATUS_TAIL = (
    Field("voltage", 0, 2, scale=0.01),
    Field("raw_current_field", 2, 2, signed=True, scale=0.1),
    Field("soc", 4, 2),
    Field("soh", 6, 2),
    Field("discharge_mos_status", 8, 1),  # B+8 discharge, B+9 charge: see the module doc
    Field("charge_mos_status", 9, 1),
    Field("balancer_status", 10, 1),
    Field("capacity", 12, 4, scale=1e-6),
    Field("charge", 16, 4, scale=1e-6),
    Field("cycle_capacity_ah", 20, 4, scale=0.001),
    Field("raw_power_field", 24, 4, signed=True),
    Field("uptime_s", 28, 4),
    Field("balance_bits", 32, 4),
    Field("total_discharged_ah", 58, 4, scale=0.001),
    Field("total_charged_ah", 62, 4, scale=0.001),
)
TAIL_LEN = 66
PLAIN_EXTRAS = ("charge_mos_status", "discharge_mos_status", "balancer_status",
                "raw_power_field", "uptime_s", "balance_bits")  # fmt: skip
SCALED_EXTRAS = ("raw_current_field", "cycle_capacity_ah", "total_discharged_ah",
                 "total_charged_ah")  # fmt: skip

# MOSFET status codes (B+8 / B+9) that name a protection; 1 = on, 0 = off, 0x0F manual off.
CHARGE_CODES: dict[int, Alarm] = {
    2: Alarm.CELL_OVERVOLTAGE, 3: Alarm.CHARGE_OVERCURRENT, 5: Alarm.PACK_OVERVOLTAGE,
    6: Alarm.CHARGE_OVERTEMP, 7: Alarm.MOS_OVERTEMP, 0x10: Alarm.CELL_OVERVOLTAGE,
    0x11: Alarm.CHARGE_UNDERTEMP, 0x12: Alarm.CELL_IMBALANCE, 0x14: Alarm.BMS_FAULT,
}  # fmt: skip
DISCHARGE_CODES: dict[int, Alarm] = {
    2: Alarm.CELL_UNDERVOLTAGE, 3: Alarm.DISCHARGE_OVERCURRENT, 4: Alarm.DISCHARGE_OVERCURRENT,
    5: Alarm.PACK_UNDERVOLTAGE, 6: Alarm.DISCHARGE_OVERTEMP, 7: Alarm.MOS_OVERTEMP,
    0x0C: Alarm.SHORT_CIRCUIT, 0x10: Alarm.CELL_UNDERVOLTAGE, 0x11: Alarm.DISCHARGE_UNDERTEMP,
    0x12: Alarm.CELL_IMBALANCE, 0x13: Alarm.BMS_FAULT,
}  # fmt: skip


def _crc(frame_body: bytes) -> bytes:
    return modbus_crc16(frame_body[1:]).to_bytes(2, "little")


def build_frame(func: int, address: int, data: bytes) -> bytes:
    """A reply-shaped frame: header, func, address, len, data, CRC, trailer."""
    body = HEADER + bytes([func]) + address.to_bytes(2, "little") + bytes([len(data)]) + data
    return body + _crc(body) + TRAILER


def request(func: int, address: int = 0, value: int = 0) -> bytes:
    """``request(0x01, 0, 0xBE)`` → ``7E A1 01 00 00 BE 18 55 AA 55`` (the status request)."""
    body = HEADER + bytes([func]) + address.to_bytes(2, "little") + bytes([value])
    return body + _crc(body) + TRAILER


STATUS_REQUEST = request(FUNC_STATUS, 0x0000, 0xBE)
DEVICE_INFO_REQUEST = request(FUNC_DEVICE_INFO, 0x026C, 0x20)


def switch_request(switch: str, on: bool) -> bytes:
    on_reg, off_reg = SWITCH_REGISTERS[switch]
    return request(FUNC_WRITE, on_reg if on else off_reg, 0)


def parse_request(data: bytes) -> tuple[int, int, int] | None:
    """(func, address, value) of a valid 10-byte host request, else None (simulator side)."""
    if len(data) != 10 or not data.startswith(HEADER) or not data.endswith(TRAILER):
        return None
    if _crc(data[:6]) != data[6:8]:
        return None
    return data[2], int.from_bytes(data[3:5], "little"), data[5]


def _valid(frame: bytes) -> bool:
    """CRC after the declared data, then either the trailer or the CRC'd tail block + trailer."""
    if len(frame) < 10 or not frame.endswith(TRAILER):
        return False
    end = 6 + frame[5]
    if _crc(frame[:end]) != frame[end : end + 2]:
        return False
    if len(frame) == end + 4:
        return True
    block = frame[end + 2 : -2]
    return len(block) == TAIL_BLOCK and modbus_crc16(block[:4]) == int.from_bytes(
        block[4:], "little"
    )


class AntCodec(ResyncCodec):
    """Reassembles ANT replies by declared length; read replies may carry the tail block."""

    name = "ant"
    header = HEADER
    max_buffer = MAX_FRAME

    def __init__(self) -> None:
        super().__init__()
        self.device: tuple[str, str] | None = None  # (model, software version) once read

    def frame_length(self, buf: bytearray) -> int | None:
        if len(buf) < 6:
            return None
        plain = buf[5] + 10
        if len(buf) < plain:
            return plain  # wait for it
        if (
            buf[plain - 2 : plain] == TRAILER
            or _crc(bytes(buf[: plain - 4])) != buf[plain - 4 : plain - 2]
        ):
            return plain  # a plain frame, or a corrupt one that check() rejects
        return plain + TAIL_BLOCK  # a good CRC without the trailer: the read replies' tail block

    def check(self, frame: bytes) -> str | None:
        return None if _valid(frame) else f"reply 0x{frame[2]:02x}: CRC/trailer mismatch"

    def on_frame(self, frame: bytes) -> None:
        self.device = device_info(frame) or self.device

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        for frame in frames:
            self.on_frame(frame)
        status = [f for f in frames if len(f) > 10 and f[2] == REPLY_STATUS]
        if not status:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid ANT status (0x11) reply{detail}")
        return decode_status(status[-1], timestamp, self.device)


def is_device_info(frame: bytes) -> bool:
    return frame[2] == REPLY_DEVICE_INFO and frame[3:5] == b"\x6c\x02" and len(frame) >= 42


def device_info(frame: bytes) -> tuple[str, str] | None:
    """(model, software version) of a 0x12 reply to ``DEVICE_INFO_REQUEST``, else None."""
    if not is_device_info(frame):
        return None
    text = [frame[at : at + 16].split(b"\0")[0].decode("ascii", "replace") for at in (6, 22)]
    return text[0], text[1]


def decode_status(
    frame: bytes, timestamp: float = 0.0, device: tuple[str, str] | None = None
) -> BatterySample:
    require_length(frame, 34, "ANT status")
    n_temps, n_cells = frame[8], frame[9]
    b = 38 + 2 * n_cells + 2 * n_temps
    require_length(frame, b + TAIL_LEN + 4, "ANT status")

    def s16(offset: int) -> float:
        return float(int.from_bytes(frame[offset : offset + 2], "little", signed=True))

    cells = tuple(int.from_bytes(frame[34 + 2 * i : 36 + 2 * i], "little") / 1000
                  for i in range(n_cells))  # fmt: skip
    probes = [s16(34 + 2 * n_cells + 2 * k) for k in range(n_temps)]
    v = read_table(STATUS_TAIL, frame, b)
    charge_code, discharge_code = int(v["charge_mos_status"]), int(v["discharge_mos_status"])
    extra: dict[str, ExtraValue] = {k: int(v[k]) for k in PLAIN_EXTRAS}
    extra |= {k: v[k] for k in SCALED_EXTRAS}
    extra |= {
        "soh": int(v["soh"]),
        "battery_status": frame[7],
        "protection_bits": int.from_bytes(frame[10:18], "little"),
        "warning_bits": int.from_bytes(frame[18:26], "little"),
    }
    if (balancer := _probe(s16(b - 2))) is not None:
        extra["balancer_temperature"] = balancer
    if device is not None:
        extra["device_model"], extra["software_version"] = device
    if NO_PROBE in probes:
        extra["absent_probes"] = ",".join(str(k + 1) for k, t in enumerate(probes) if t == NO_PROBE)
    alarms = {CHARGE_CODES[c] for c in (charge_code,) if c in CHARGE_CODES}
    alarms |= {DISCHARGE_CODES[c] for c in (discharge_code,) if c in DISCHARGE_CODES}
    return BatterySample(
        timestamp=timestamp,
        voltage_v=v["voltage"],
        current_a=round(-v["raw_current_field"], 1) + 0.0,
        soc_pct=int(v["soc"]),
        charge_ah=v["charge"],
        capacity_ah=v["capacity"],
        cell_voltages_v=cells,
        temperatures_c=tuple(t for t in probes if t != NO_PROBE),
        mos_temperature_c=_probe(s16(b - 4)),
        charge_enabled=charge_code == 1,
        discharge_enabled=discharge_code == 1,
        balancing=int(v["balance_bits"]) != 0,
        soh_pct=int(v["soh"]),
        alarms=frozenset(alarms),
        extra=extra,
    )


def _probe(celsius: float) -> float | None:
    return None if celsius == NO_PROBE else celsius


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _le(value: float, size: int, signed: bool = False) -> bytes:
    return round(value).to_bytes(size, "little", signed=signed)


def _mos_code(enabled: bool | None, alarms: frozenset[Alarm], codes: dict[int, Alarm]) -> int:
    if enabled:
        return 1
    return next((c for c, a in codes.items() if a in alarms), 0x0F)  # else "manually off"


def build_status(sample: BatterySample, battery_status: int | None = None) -> bytes:
    """A 0x11 reply carrying ``sample`` (the inverse of ``decode_status``)."""
    cells, temps = sample.cell_voltages_v, sample.temperatures_c
    current = sample.current_a or 0.0
    if battery_status is None:
        battery_status = 2 if current > 0 else 3 if current < 0 else 1
    head = bytes([0x05, battery_status, len(temps), len(cells)]) + bytes(24)
    body = b"".join(_le(v * 1000, 2) for v in cells) + b"".join(_le(t, 2, True) for t in temps)
    mos_c = sample.mos_temperature_c
    mos = _le(NO_PROBE if mos_c is None else mos_c, 2, True)
    tail = b"".join(
        (
            _le((sample.voltage_v or 0) * 100, 2),
            _le(-current * 10, 2, True),
            _le(sample.soc_pct or 0, 2),
            _le(sample.soh_pct if sample.soh_pct is not None else 100, 2),
            bytes(
                [
                    _mos_code(sample.discharge_enabled, sample.alarms, DISCHARGE_CODES),
                    _mos_code(sample.charge_enabled, sample.alarms, CHARGE_CODES),
                    4 if sample.balancing else 0,
                    0,
                ]
            ),
            _le((sample.capacity_ah or 0) * 1e6, 4),
            _le((sample.charge_ah or 0) * 1e6, 4),
            _le(0, 4),
            _le(-(sample.power_w or 0), 4, True),
            _le(0, 4),
            _le(1 if sample.balancing else 0, 4),
            bytes(TAIL_LEN - 36 + 8),
        )
    )
    data = head + body + mos + bytes(2) + tail
    return build_frame(REPLY_STATUS, 0x0000, data)


def build_read_reply(
    func: int, address: int, data: bytes, block: bytes = b"\xff\x0b\x00\x00"
) -> bytes:
    """A read reply (0x12, 0x42) as real packs send it: the tail block between CRC and trailer."""
    plain = build_frame(func, address, data)
    return plain[:-2] + block + modbus_crc16(block).to_bytes(2, "little") + TRAILER


def build_device_info(model: str, software: str) -> bytes:
    """``build_device_info("16ZM", "16ZMUB00-211026A")`` is the 16ZM's reply byte for byte."""
    data = model.encode()[:16].ljust(16, b"\0") + software.encode()[:16].ljust(16, b"\0")
    return build_read_reply(REPLY_DEVICE_INFO, 0x026C, data)


def build_write_reply(address: int) -> bytes:
    return build_frame(REPLY_WRITE, address, b"")
