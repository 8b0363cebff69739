"""Daly classic ``A5`` protocol (older Bluetooth dongles, UART and RS485).

Every frame is 13 bytes: ``A5 addr cmd 08 data[8] sum8``. The host sends ``addr`` = 0x80
(Bluetooth/UART; some BLE modules only answer 0x40), the BMS answers with ``addr`` = 0x01.
Each command gets its own reply; 0x95 (cells, 3 per frame) and 0x96 (temperatures, 7 per frame)
get several, numbered in data byte 0. Notifications may carry one or two replies.

Example (vector daly_2), reply to 0x90: ``A5 01 90 08 | 02 14 00 00 75 45 03 78 | 89``
→ 53.2 V, current raw 0x7545 − 30000 = +2.1 A, SoC 88.8 %.

A temperature byte of 0 (−40 °C, the bottom of the offset range) is an absent probe, as in the
``D2`` protocol (aiobmsble's Daly reader skips raw 0 with the 40 offset): it is dropped and its
1-based number goes to ``absent_probes``.

Current sign is contested (ble.md 3.4): raw positive is read as DISCHARGING, unless the 0x93
state byte says charging (1) or discharging (2), which then decides the sign.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.base import Field, ResyncCodec, read_table, sum8

START, LENGTH, FRAME_LEN = 0xA5, 0x08, 13
HOST_BLE, HOST_ALT, REPLY_ADDR = 0x80, 0x40, 0x01
CMD_SOC, CMD_CELL_RANGE, CMD_TEMP_RANGE, CMD_MOSFET, CMD_STATUS = 0x90, 0x91, 0x92, 0x93, 0x94
CMD_CELLS, CMD_TEMPS, CMD_BALANCE, CMD_FAULTS = 0x95, 0x96, 0x97, 0x98
CMD_SET_DISCHARGE, CMD_SET_CHARGE = 0xD9, 0xDA
SWITCH_COMMANDS = {"charge": CMD_SET_CHARGE, "discharge": CMD_SET_DISCHARGE}
CELLS_PER_FRAME, TEMPS_PER_FRAME = 3, 7
CELL_FRAMES, TEMP_FRAMES = 16, 3  # what a BLE module sends, whatever the cell count
CURRENT_OFFSET, TEMP_OFFSET = 30000, 40

# Data-byte tables (frame offset = data offset + 4), big endian.
SOC = (
    Field("voltage", 4, 2, scale=0.1, byteorder="big"),
    Field("current_raw", 8, 2, byteorder="big"),
    Field("soc", 10, 2, scale=0.1, byteorder="big"),
)
CELL_RANGE = (
    Field("max_mv", 4, 2, byteorder="big"),
    Field("max_index", 6, 1),
    Field("min_mv", 7, 2, byteorder="big"),
    Field("min_index", 9, 1),
)
MOSFET = (
    Field("state", 4, 1),  # 0 idle, 1 charging, 2 discharging
    Field("charge_mos", 5, 1),
    Field("discharge_mos", 6, 1),
    Field("life", 7, 1),
    Field("charge", 8, 4, scale=0.001, byteorder="big"),
)
STATUS = (
    Field("cell_count", 4, 1),
    Field("temperature_sensor_count", 5, 1),
    Field("charger", 6, 1),
    Field("load", 7, 1),
    Field("cycles", 9, 2, byteorder="big"),
)

# 0x98 fault bits, index = 8 * data byte + bit. Level-2 bits are alarms, level-1 warnings.
FAULT_ALARMS: dict[int, Alarm] = {
    1: Alarm.CELL_OVERVOLTAGE, 3: Alarm.CELL_UNDERVOLTAGE,
    5: Alarm.PACK_OVERVOLTAGE, 7: Alarm.PACK_UNDERVOLTAGE,
    9: Alarm.CHARGE_OVERTEMP, 11: Alarm.CHARGE_UNDERTEMP,
    13: Alarm.DISCHARGE_OVERTEMP, 15: Alarm.DISCHARGE_UNDERTEMP,
    17: Alarm.CHARGE_OVERCURRENT, 19: Alarm.DISCHARGE_OVERCURRENT,
    23: Alarm.LOW_SOC, 25: Alarm.CELL_IMBALANCE,
    32: Alarm.MOS_OVERTEMP, 33: Alarm.MOS_OVERTEMP,
    34: Alarm.SENSOR_FAULT, 35: Alarm.SENSOR_FAULT, 40: Alarm.BMS_FAULT, 42: Alarm.SENSOR_FAULT,
    43: Alarm.BMS_FAULT, 48: Alarm.SENSOR_FAULT, 50: Alarm.SHORT_CIRCUIT,
}  # fmt: skip
FAULT_WARNINGS: dict[int, Alarm] = {
    bit - 1: alarm for bit, alarm in FAULT_ALARMS.items() if bit < 26
}


def frame(addr: int, cmd: int, data: bytes = bytes(8)) -> bytes:
    body = bytes([START, addr, cmd, LENGTH]) + data.ljust(8, b"\x00")[:8]
    return body + bytes([sum8(body)])


def request(cmd: int, host: int = HOST_BLE, data: bytes = bytes(8)) -> bytes:
    """``request(0x90)`` → ``A5 80 90 08 00…00 BD``."""
    return frame(host, cmd, data)


def switch_request(switch: str, on: bool, host: int = HOST_BLE) -> bytes:
    """Data byte 0 = 1 for on (batmon, dbus-serialbattery; Daly's own page says the opposite)."""
    return request(SWITCH_COMMANDS[switch], host, bytes([1 if on else 0]))


def is_valid(data: bytes) -> bool:
    return (
        len(data) == FRAME_LEN and data[0] == START and data[3] == LENGTH
        and sum8(data[:12]) == data[12]
    )  # fmt: skip


def parse_request(data: bytes) -> tuple[int, int, bytes] | None:
    """(host address, command, data) of a valid host request, else None (simulator side)."""
    if not is_valid(data) or data[1] == REPLY_ADDR:
        return None
    return data[1], data[2], bytes(data[4:12])


def _by_cmd(frames: Sequence[bytes], cmd: int) -> list[bytes]:
    return [f for f in frames if len(f) == FRAME_LEN and f[2] == cmd]


def _numbered(frames: list[bytes], per_frame: int, size: int) -> list[int]:
    """Values of numbered replies (0x95/0x96) in frame-number order, later duplicates win."""
    slots: dict[int, bytes] = {f[4]: f for f in frames if f[4] >= 1}
    values: list[int] = []
    for number in sorted(slots):
        body = slots[number][5 : 5 + per_frame * size]
        values += [int.from_bytes(body[i : i + size], "big") for i in range(0, len(body), size)]
    return values


class DalyCodec(ResyncCodec):
    """13-byte reply stream; decodes whatever subset of 0x90..0x98 replies it is given."""

    name = "daly"
    header = bytes([START])
    max_buffer = 512

    def frame_length(self, buf: bytearray) -> int | None:
        return FRAME_LEN

    def check(self, frame: bytes) -> str | None:
        if not is_valid(frame) or frame[1] != REPLY_ADDR:
            return f"reply {frame[:4].hex()}…: bad checksum"
        return None

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        soc = _by_cmd(frames, CMD_SOC)
        if not soc:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid Daly 0x90 (voltage/current/SoC) reply{detail}")
        v = read_table(SOC, soc[-1])
        raw_a = (v["current_raw"] - CURRENT_OFFSET) / 10
        current = -raw_a  # assumed: raw positive = discharging
        extra: dict[str, ExtraValue] = {"raw_current_field": round(raw_a, 1)}
        out: dict[str, object] = {}
        if mos := _by_cmd(frames, CMD_MOSFET):
            m = read_table(MOSFET, mos[-1])
            state = int(m["state"])
            if state in (1, 2):  # the BMS says which way the current flows
                current = abs(raw_a) if state == 1 else -abs(raw_a)
            extra["state"] = state
            out |= {"charge_ah": m["charge"], "charge_enabled": bool(m["charge_mos"]),
                    "discharge_enabled": bool(m["discharge_mos"])}  # fmt: skip
        cell_count = temp_count = None
        if status := _by_cmd(frames, CMD_STATUS):
            s = read_table(STATUS, status[-1])
            cell_count, temp_count = int(s["cell_count"]), int(s["temperature_sensor_count"])
            extra["cell_count"], extra["temperature_sensor_count"] = cell_count, temp_count
            extra["charger_connected"] = bool(s["charger"])
            extra["load_connected"] = bool(s["load"])
            out["cycles"] = int(s["cycles"])
        if rng := _by_cmd(frames, CMD_CELL_RANGE):
            r = read_table(CELL_RANGE, rng[-1])
            extra["max_cell"] = {"mv": int(r["max_mv"]), "index": int(r["max_index"])}  # type: ignore[assignment]
            extra["min_cell"] = {"mv": int(r["min_mv"]), "index": int(r["min_index"])}  # type: ignore[assignment]
        cells = _numbered(_by_cmd(frames, CMD_CELLS), CELLS_PER_FRAME, 2)
        cells = cells[:cell_count] if cell_count is not None else _strip_zeros(cells)
        temps = _numbered(_by_cmd(frames, CMD_TEMPS), TEMPS_PER_FRAME, 1)
        temps = temps[:temp_count] if temp_count is not None else _strip_zeros(temps)
        if 0 in temps:
            extra["absent_probes"] = ",".join(str(i + 1) for i, t in enumerate(temps) if t == 0)
        if bal := _by_cmd(frames, CMD_BALANCE):
            bits = int.from_bytes(bal[-1][4:12], "little")
            out["balancing"] = bits != 0
            extra["balance_bits"] = bits
        alarms: set[Alarm] = set()
        warnings: set[Alarm] = set()
        if faults := _by_cmd(frames, CMD_FAULTS):
            bits = int.from_bytes(faults[-1][4:11], "little")  # data byte 7 is a fault code
            extra["alarm_bits"] = bits
            alarms = {a for bit, a in FAULT_ALARMS.items() if bits >> bit & 1}
            warnings = {a for bit, a in FAULT_WARNINGS.items() if bits >> bit & 1} - alarms
        return BatterySample(
            timestamp=timestamp,
            voltage_v=v["voltage"],
            current_a=round(current, 1) + 0.0,  # + 0.0 turns −0.0 into 0.0
            soc_pct=v["soc"],
            cell_voltages_v=tuple(mv / 1000 for mv in cells),
            temperatures_c=tuple(float(t - TEMP_OFFSET) for t in temps if t != 0),
            alarms=frozenset(alarms),
            warnings=frozenset(warnings),
            extra=extra,
            **out,  # type: ignore[arg-type]
        )


def _strip_zeros(values: list[int]) -> list[int]:
    while values and values[-1] == 0:
        values.pop()
    return values


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _reply(cmd: int, data: bytes) -> bytes:
    return frame(REPLY_ADDR, cmd, data)


def _be(value: float, size: int) -> bytes:
    return max(0, round(value)).to_bytes(size, "big")


def build_replies(cmd: int, sample: BatterySample) -> list[bytes]:
    """The reply frames a BLE Daly sends for ``cmd`` (all 16 cell / 3 temperature frames)."""
    current = sample.current_a or 0.0
    cells, temps = sample.cell_voltages_v, sample.temperatures_c
    if cmd == CMD_SOC:
        raw = CURRENT_OFFSET - current * 10  # raw positive = discharging
        data = _be((sample.voltage_v or 0) * 10, 2) + bytes(2) + _be(raw, 2)
        return [_reply(cmd, data + _be((sample.soc_pct or 0) * 10, 2))]
    if cmd == CMD_CELL_RANGE and cells:
        hi, lo = cells.index(max(cells)), cells.index(min(cells))
        data = _be(cells[hi] * 1000, 2) + bytes([hi + 1]) + _be(cells[lo] * 1000, 2)
        return [_reply(cmd, data + bytes([lo + 1]))]
    if cmd == CMD_MOSFET:
        state = 1 if current > 0 else 2 if current < 0 else 0
        flags = bytes(
            [state, int(bool(sample.charge_enabled)), int(bool(sample.discharge_enabled))]
        )
        return [_reply(cmd, flags + b"\x00" + _be((sample.charge_ah or 0) * 1000, 4))]
    if cmd == CMD_STATUS:
        data = bytes([len(cells), len(temps), int(current > 0), int(current < 0), 0])
        return [_reply(cmd, data + _be(sample.cycles or 0, 2))]
    if cmd == CMD_CELLS:
        return _numbered_replies(
            cmd, [_be(v * 1000, 2) for v in cells], CELLS_PER_FRAME, CELL_FRAMES
        )
    if cmd == CMD_TEMPS:
        values = [_be(t + TEMP_OFFSET, 1) for t in temps]
        return _numbered_replies(cmd, values, TEMPS_PER_FRAME, TEMP_FRAMES)
    if cmd == CMD_BALANCE:
        return [_reply(cmd, bytes([1 if sample.balancing else 0]))]
    if cmd == CMD_FAULTS:
        bits = sum(1 << b for b, a in FAULT_ALARMS.items() if a in sample.alarms)
        return [_reply(cmd, bits.to_bytes(7, "little"))]
    return []


def _numbered_replies(cmd: int, values: list[bytes], per: int, minimum: int) -> list[bytes]:
    count = max(minimum, math.ceil(len(values) / per))
    return [
        _reply(cmd, bytes([n + 1]) + b"".join(values[n * per : (n + 1) * per]))
        for n in range(count)
    ]
