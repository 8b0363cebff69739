"""Supervolt v1 / E&J Technology BMS, ASCII-hex protocol over the Nordic UART service.

A frame is ``:`` + hex text + two hex digits of checksum + ``~``. The checksum is the sum of
the ASCII codes between ``:`` and the checksum, & 0xFF, XOR 0xFF. Hex-decoded, the frame body
starts ``address command version length(u16be, total characters incl. ':' and '~')``; a reply's
command is the request's | 0x80. Two requests: realtime (0x02 → 0x82, 128 characters) and
capacity (0x10 → 0x90, 30 characters). Metrisun/Chins packs answer realtime with one
140-character frame that carries the capacities at body bytes 62..67.

Example (vector supervolt_1), body bytes: ``00 82 31 0080`` header, 12..13 ``0F 54`` → cell 1
3.924 V, 44..45 ``00 00`` charge 0 A, 46..47 ``00 02`` discharge 0.02 A → current −0.02 A.
There is no pack-voltage field: voltage is the sum of the cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec, Field, read_table

HEAD, TAIL = ord(":"), ord("~")
AT_MESSAGE = b"AT\r\n"  # the BLE module's own chatter, not a frame
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
MIN_FRAME, MAX_FRAME = 14, 512

CMD_REALTIME, CMD_CAPACITY = 0x02, 0x10
REPLY_REALTIME, REPLY_CAPACITY = 0x82, 0x90
REALTIME_LEN, SINGLE_FRAME_LEN, CAPACITY_LEN = 128, 140, 30
CELL_OFFSET, CELL_SLOTS = 12, 16

# Hex-decoded body offsets, big endian.
REALTIME = (
    Field("charge_current", 44, 2, scale=0.01, byteorder="big"),
    Field("discharge_current", 46, 2, scale=0.01, byteorder="big"),
    Field("working_state", 52, 2, byteorder="big"),
    Field("alarm_byte", 54, 1),
    Field("balance_bits", 55, 2, byteorder="big"),
    Field("discharge_count", 57, 2, byteorder="big"),
    Field("charge_count", 59, 2, byteorder="big"),
    Field("soc", 61, 1),
)
TEMPERATURE_OFFSETS = (48, 49, 50, 51)  # u8 − 40 °C
CAPACITY = (  # capacity reply; the single-frame variant has them at 62..67
    Field("remaining", 7, 2, scale=0.1, byteorder="big"),
    Field("full", 9, 2, scale=0.1, byteorder="big"),
    Field("design", 11, 2, scale=0.1, byteorder="big"),
)
SINGLE_FRAME_CAPACITY_SHIFT = 62 - 7

STATE_CHARGING, STATE_DISCHARGING = 0x0001, 0x0002
STATE_DFET_ON, STATE_CFET_ON = 0x1000, 0x2000
STATE_ALARMS: dict[int, Alarm] = {
    0x0004: Alarm.CELL_OVERVOLTAGE,  # overcharge protection
    0x0008: Alarm.CELL_UNDERVOLTAGE,  # over-discharge protection
    0x0010: Alarm.PACK_OVERVOLTAGE,  # "overcharged"
    0x0020: Alarm.SHORT_CIRCUIT,
    0x0040: Alarm.DISCHARGE_OVERCURRENT,  # discharge protection 1
    0x0080: Alarm.DISCHARGE_OVERCURRENT,  # discharge protection 2
    0x0100: Alarm.CHARGE_OVERTEMP,
    0x0200: Alarm.CHARGE_UNDERTEMP,
    0x0400: Alarm.DISCHARGE_OVERTEMP,
    0x0800: Alarm.DISCHARGE_UNDERTEMP,
}


def checksum(text: bytes) -> int:
    return (sum(text) & 0xFF) ^ 0xFF


def build_frame(address: int, command: int, version: int, body: bytes = b"") -> bytes:
    """One ASCII frame; the length field counts every character of the finished frame."""
    length = 1 + 2 * (5 + len(body)) + 2 + 1
    text = (bytes([address, command, version]) + length.to_bytes(2, "big") + body).hex().upper()
    raw = text.encode("ascii")
    return b":" + raw + f"{checksum(raw):02X}".encode("ascii") + b"~"


REQUEST_REALTIME = build_frame(0x00, CMD_REALTIME, 0x50)  # b":000250000E03~"
REQUEST_CAPACITY = build_frame(0x00, CMD_CAPACITY, 0x31)  # b":001031000E05~"


def body(frame: bytes) -> bytes:
    """The hex-decoded bytes of a verified frame, without the checksum."""
    return bytes.fromhex(frame[1:-3].decode("ascii"))


def command_of(frame: bytes) -> int:
    """The command byte of a frame (reply = request | 0x80)."""
    return int(frame[3:5], 16)


def parse_request(data: bytes) -> int | None:
    """Command of a host request, or None if ``data`` is not a valid frame (simulator side)."""
    codec = SupervoltCodec()
    frames = codec.feed(data)
    return command_of(frames[0]) if frames else None


class SupervoltCodec(Codec):
    """Reassembles ``:``…``~`` frames by their length field; decodes realtime + capacity."""

    name = "supervolt"

    def __init__(self, verify_checksum: bool = True) -> None:
        super().__init__()
        # "libattU…" modules send a wrong checksum; the driver turns the check off for them.
        self.verify_checksum = verify_checksum
        self._buffer = bytearray()

    def parse_cli_frame(self, text: str) -> bytes:
        """``batmux decode`` takes the frame as printed (``:0082…~``) or as hex of its bytes."""
        stripped = text.strip()
        if stripped.startswith(":") and stripped.endswith("~"):
            return stripped.encode("ascii", "replace")
        return super().parse_cli_frame(text)

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buffer
        buf += chunk
        while (at := buf.find(AT_MESSAGE)) >= 0:
            del buf[at : at + len(AT_MESSAGE)]
        frames: list[bytes] = []
        while True:
            start = buf.find(b":")
            if start < 0:
                buf.clear()
                break
            del buf[:start]
            if len(buf) < 11:
                break
            length = self._declared_length(buf)
            if length is None:
                del buf[:1]
                continue
            # A new ':' before the end means the frame was cut off: resync there.
            restart = buf.find(b":", 1, length)
            if restart > 0:
                self.reject(TruncatedFrame(f"E&J frame cut off after {restart} characters"))
                del buf[:restart]
                continue
            if len(buf) < length:
                break
            frame = bytes(buf[:length])
            error = self._check(frame)
            if error is not None:
                self.reject(error)
                del buf[:1]
                continue
            del buf[:length]
            frames.append(frame)
        return frames

    def _declared_length(self, buf: bytearray) -> int | None:
        field = bytes(buf[7:11])
        if not all(c in HEX_DIGITS for c in bytes(buf[1:11])):
            self.reject(CorruptFrame(f"E&J header is not hex: {bytes(buf[:11])!r}"))
            return None
        length = int(field, 16)
        if not MIN_FRAME <= length <= MAX_FRAME or length % 2:
            self.reject(CorruptFrame(f"E&J length field {length} out of range"))
            return None
        return length

    def _check(self, frame: bytes) -> ProtocolError | None:
        if frame[-1] != TAIL:
            return CorruptFrame("E&J frame does not end with '~' at its declared length")
        if not all(c in HEX_DIGITS for c in frame[1:-1]):
            return CorruptFrame("E&J frame holds non-hex characters")
        if self.verify_checksum and checksum(frame[1:-3]) != int(frame[-3:-1], 16):
            return CorruptFrame("E&J checksum mismatch")
        return None

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        realtime = capacity = None
        for frame in frames:
            if len(frame) < MIN_FRAME:
                continue
            cmd = command_of(frame)
            if cmd == REPLY_REALTIME:
                realtime = body(frame)
            elif cmd == REPLY_CAPACITY:
                capacity = body(frame)
        if realtime is None:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProtocolError(f"no valid E&J realtime frame{detail}")
        return decode_realtime(realtime, capacity, timestamp)


def decode_realtime(rt: bytes, cap: bytes | None, timestamp: float = 0.0) -> BatterySample:
    """Realtime body (+ optional capacity body) → sample."""
    if len(rt) < 62:
        raise TruncatedFrame(f"E&J realtime body: {len(rt)} bytes, need 62")
    v = read_table(REALTIME, rt)
    raw_cells = [
        int.from_bytes(rt[CELL_OFFSET + 2 * i : CELL_OFFSET + 2 * i + 2], "big")
        for i in range(CELL_SLOTS)
    ]
    cells = tuple(round(mv / 1000, 3) for mv in raw_cells if mv)
    temps = [rt[o] - 40 for o in TEMPERATURE_OFFSETS]
    state = int(v["working_state"])
    caps: dict[str, float] | None = None
    if cap is not None and len(cap) >= 13:
        caps = read_table(CAPACITY, cap)
    elif len(rt) >= 68:  # single-frame variant
        caps = read_table(CAPACITY, rt, SINGLE_FRAME_CAPACITY_SHIFT)
    extra: dict[str, float | int | bool] = {
        "working_state": state,
        "alarm_byte": int(v["alarm_byte"]),
        "balance_bits": int(v["balance_bits"]),
        "charge_count": int(v["charge_count"]),
        # Only the first sensor is the pack temperature (aiobmsble); the rest kept for reference.
        **{f"temperature_{i + 1}": t for i, t in enumerate(temps) if i},
    }
    if caps is not None:
        extra["design_capacity"] = caps["design"]
    return BatterySample(
        timestamp=timestamp,
        voltage_v=round(sum(cells), 3) if cells else None,
        current_a=round(v["charge_current"] - v["discharge_current"], 2),
        soc_pct=int(v["soc"]),
        charge_ah=caps["remaining"] if caps else None,
        capacity_ah=caps["full"] if caps else None,
        cycles=int(v["discharge_count"]),
        cell_voltages_v=cells,
        temperatures_c=(temps[0],),
        charge_enabled=bool(state & STATE_CFET_ON),
        discharge_enabled=bool(state & STATE_DFET_ON),
        balancing=bool(v["balance_bits"]),
        alarms=frozenset(a for bit, a in STATE_ALARMS.items() if state & bit),
        extra=extra,
    )


# -- encoders (the device side, used by the simulator) ---------------------------------------


def _u(value: float, size: int) -> bytes:
    return max(0, min(round(value), (1 << 8 * size) - 1)).to_bytes(size, "big")


def build_realtime(sample: BatterySample, single_frame: bool = False) -> bytes:
    """A realtime reply (0x82) carrying ``sample``; ``single_frame`` appends the capacities."""
    rt = bytearray(57)  # body bytes 5..61 of the reply

    def put(offset: int, raw: bytes) -> None:
        rt[offset - 5 : offset - 5 + len(raw)] = raw

    for i, volts in enumerate(sample.cell_voltages_v[:CELL_SLOTS]):
        put(CELL_OFFSET + 2 * i, _u(volts * 1000, 2))
    current = sample.current_a or 0.0
    put(44, _u(max(current, 0) * 100, 2))
    put(46, _u(max(-current, 0) * 100, 2))
    temps = [*sample.temperatures_c[:1]]
    temps += [float(sample.extra.get(f"temperature_{i + 1}", 0.0)) for i in range(1, 4)]
    for offset, temp in zip(TEMPERATURE_OFFSETS, temps, strict=False):
        put(offset, _u(temp + 40, 1))
    state = STATE_DFET_ON * bool(sample.discharge_enabled) | STATE_CFET_ON * bool(
        sample.charge_enabled
    )
    if current > 0:
        state |= STATE_CHARGING
    elif current < 0:
        state |= STATE_DISCHARGING
    state |= sum(bit for bit, alarm in STATE_ALARMS.items() if alarm in sample.alarms)
    put(52, _u(state, 2))
    put(55, _u(1 if sample.balancing else 0, 2))
    put(57, _u(sample.cycles or 0, 2))
    put(61, _u(sample.soc_pct or 0, 1))
    payload = bytes(rt)
    if single_frame:
        payload += _capacities(sample)
    return build_frame(0x00, REPLY_REALTIME, 0x31, payload)


def _capacities(sample: BatterySample) -> bytes:
    design = float(sample.extra.get("design_capacity", sample.capacity_ah or 0.0))
    return b"".join(
        _u(ah * 10, 2) for ah in (sample.charge_ah or 0.0, sample.capacity_ah or 0.0, design)
    )


def build_capacity(sample: BatterySample) -> bytes:
    """A capacity reply (0x90): two reserved bytes, then remaining/full/design in 0.1 Ah."""
    return build_frame(0x00, REPLY_CAPACITY, 0x31, bytes(2) + _capacities(sample))
