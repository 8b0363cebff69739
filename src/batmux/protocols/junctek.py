"""Junctek KH-F / KG-F shunts (coulomb meters) on RS485: ASCII ``:r50=`` lines.

115200 8N1, lines end CR LF. The host asks ``:R50=<addr>,2,1,`` (measurements) and
``:R51=<addr>,2,1,`` (settings); the shunt answers ``:r50=…`` / ``:r51=…`` (a KG-F also
pushes ``:r50=`` about once a second). A reply is ``address, checksum, values…`` with
checksum = (sum of every number after it) mod 255 + 1. Facts: can-modbus.md §4.4.

    :r50=1,123,1198,1090,7421,2749,437,298,113,0,0,1,69,100,230208,112418,   (KH-F manual)
         |  |   |    |    |    |    |   |   |   | | |  |  …date, time (KH-F: 16 numbers)
         |  |   |    |    |    |    |   |   |   | | |  remaining minutes
         |  |   |    |    |    |    |   |   |   | | direction: 1 charging, 0 discharging
         |  |   |    |    |    |    |   |   |   | output state (0 on, 99 off, 1.. protection)
         |  |   |    |    |    |    |   |   |   KH-F: power ×0.01 W; KG-F: reserved
         |  |   |    |    |    |    |   |   temperature + 100 °C
         |  |   |    |    |    |    |   run time
         |  |   |    |    kWh out/in ×0.001 (KH-F); cumulative Ah ×0.001, energy (KG-F)
         |  |   |    |    remaining Ah ×0.001
         |  |   |    current ×0.01 A, a magnitude: the direction field gives the sign
         |  |   voltage ×0.01 V (first, on both: a real KG-F line reads 51.66 V, 10.30 A)
         |  checksum
         address

A KG-F line has 14 numbers (…, remaining minutes, internal resistance ×0.01 mΩ). ``:r51=``
carries the preset capacity ×0.1 Ah as its 11th number. Requests other hosts (the display)
put on the same RS485 pair are skipped; other lines are corrupt. A reply with checksum 0
("not checked" in the manual's write syntax) cannot be verified and is dropped too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec

MEASURE, SETTINGS = 50, 51
MAX_LINE = 256  # longest real reply is ~90 characters
MAX_DIGITS = 12
_REPLY = re.compile(rb"^:r(\d\d)=((?:-?\d+[,.])+)$")
_REQUEST = re.compile(rb"^:[RW]\d\d=")

# r50 indexes of the fields KH-F and KG-F share
VOLT, AMP, AH, TEMP, OUTPUT, DIRECTION, MINUTES = 2, 3, 4, 8, 10, 11, 12
MIN_R50 = MINUTES + 1
KHF_NUMBERS = 16
KHF_EXTRA = {5: ("discharge_energy_kwh", 0.001), 6: ("charge_energy_kwh", 0.001),
             7: ("run_record", 1), 9: ("field_9", 1)}  # fmt: skip
KGF_EXTRA = {5: ("cumulative_ah", 0.001), 6: ("energy_raw", 1), 7: ("run_time_s", 1),
             13: ("internal_resistance_mohm", 0.01)}  # fmt: skip
CAPACITY_INDEX, CAPACITY_SCALE = 10, 0.1  # in r51
TEMP_OFFSET = 100
OUTPUT_STATES = {0: "on", 1: "OVP", 2: "OCP", 3: "LVP", 4: "NCP", 5: "OPP", 6: "OTP", 99: "off"}
OUTPUT_ALARMS = {  # the shunt's relay tripped: which protection [M: manual names; sides L]
    1: Alarm.PACK_OVERVOLTAGE,
    2: Alarm.CHARGE_OVERCURRENT,  # "positive" over-current; positive = the charge direction
    3: Alarm.PACK_UNDERVOLTAGE,
    4: Alarm.DISCHARGE_OVERCURRENT,  # "negative" over-current
    5: Alarm.DISCHARGE_OVERCURRENT,  # over-power
    6: Alarm.DISCHARGE_OVERTEMP,
}
CHARGING = 1


def checksum(numbers: Sequence[int]) -> int:
    return sum(numbers) % 255 + 1


def build_request(function: int, address: int = 1) -> bytes:
    """``:R50=1,2,1,`` — the value 1 after the checksum (1 % 255 + 1 = 2)."""
    return f":R{function:02d}={address},{checksum([1])},1,\r\n".encode()


def build_reply(function: int, address: int, values: Sequence[int]) -> bytes:
    """A reply line with its checksum (the simulator's side)."""
    body = ",".join(str(v) for v in (address, checksum(values), *values))
    return f":r{function:02d}={body},\r\n".encode()


@dataclass(frozen=True, slots=True)
class Reply:
    function: int
    numbers: tuple[int, ...]  # address, checksum, values…

    @property
    def address(self) -> int:
        return self.numbers[0]


def parse_reply(line: bytes) -> Reply:
    """One line without CR LF → reply; ``CorruptFrame`` for bad syntax or checksum."""
    match = _REPLY.match(line.strip())
    if match is None:
        raise CorruptFrame(f"junctek: not a reply line: {line[:40]!r}")
    tokens = [n for n in re.split(rb"[,.]", match[2]) if n]
    if any(len(n) > MAX_DIGITS for n in tokens):  # no real field has more; floats would overflow
        raise CorruptFrame(f"junctek: a number of more than {MAX_DIGITS} digits")
    numbers = tuple(int(n) for n in tokens)
    if len(numbers) < 3:
        raise TruncatedFrame(f"junctek: {len(numbers)} numbers in :r{match[1].decode()}")
    given = numbers[1]
    if given != checksum(numbers[2:]):
        raise CorruptFrame(f"junctek: checksum {given}, numbers add to {checksum(numbers[2:])}")
    return Reply(int(match[1]), numbers)


class JunctekCodec(Codec):
    """Lines in, verified ``:r50=``/``:r51=`` replies out; ``decode`` reads the newest."""

    name = "junctek"

    def __init__(self, address: int | None = None, capacity_ah: float | None = None) -> None:
        super().__init__()
        self.address = address  # None: any shunt on the bus
        self.capacity_ah = capacity_ah  # overrides the r51 preset when given
        self.requests_seen = 0
        self.other_replies = 0
        self._buffer = bytearray()

    def parse_cli_frame(self, text: str) -> bytes:
        """``batmux decode junctek ':r50=1,…,'``: one line, CR LF optional (also as ``\\r\\n``)."""
        line = text.strip().replace("\\r", "").replace("\\n", "")
        return line.encode("ascii", "replace") + b"\r\n"

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buffer
        buf += chunk
        out: list[bytes] = []
        while True:
            end = next((i for i, c in enumerate(buf) if c in b"\r\n"), -1)
            if end < 0:
                if len(buf) > MAX_LINE:
                    self.reject(TruncatedFrame(f"junctek: no line end in {len(buf)} bytes"))
                    buf.clear()
                break
            line = bytes(buf[:end])
            del buf[: end + 1]
            if line.strip():
                out += self._line(line)
        return out

    def _line(self, line: bytes) -> list[bytes]:
        start = line.rfind(b":")
        if start < 0:
            self.reject(CorruptFrame(f"junctek: no ':' in {line[:40]!r}"))
            return []
        line = line[start:].strip()
        if _REQUEST.match(line):
            self.requests_seen += 1  # the display or another host polling on the same pair
            return []
        try:
            reply = parse_reply(line)
        except ProtocolError as exc:
            self.reject(exc)
            return []
        if reply.function not in (MEASURE, SETTINGS) or (
            self.address is not None and reply.address != self.address
        ):
            self.other_replies += 1
            return []
        if reply.function == MEASURE and len(reply.numbers) < MIN_R50:
            self.reject(TruncatedFrame(f"junctek: r50 with {len(reply.numbers)} numbers"))
            return []
        if reply.function == SETTINGS and len(reply.numbers) <= CAPACITY_INDEX:
            self.reject(TruncatedFrame(f"junctek: r51 with {len(reply.numbers)} numbers"))
            return []
        return [line]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        measure = settings = None
        for line in frames:
            reply = parse_reply(line)
            if reply.function == MEASURE and len(reply.numbers) >= MIN_R50:
                measure = reply
            elif reply.function == SETTINGS and len(reply.numbers) > CAPACITY_INDEX:
                settings = reply
        if measure is None:
            raise ProtocolError("junctek: no :r50= measurement line")
        n = measure.numbers
        if n[DIRECTION] not in (0, 1):
            raise CorruptFrame(f"junctek: direction {n[DIRECTION]} (0 or 1)")
        magnitude = round(n[AMP] * 0.01, 2)
        current = magnitude if n[DIRECTION] == CHARGING else -magnitude
        remaining = round(n[AH] * 0.001, 3)
        capacity = self.capacity_ah
        if capacity is None and settings is not None:
            capacity = round(settings.numbers[CAPACITY_INDEX] * CAPACITY_SCALE, 1) or None
        layout = "KH-F" if len(n) >= KHF_NUMBERS else "KG-F"
        extra: dict[str, float | int | str | bool] = {
            "model": layout,
            "address": measure.address,
            "direction": n[DIRECTION],
            "output": OUTPUT_STATES.get(n[OUTPUT], str(n[OUTPUT])),
            "remaining_minutes": n[MINUTES],
        }
        for index, (name, scale) in (KHF_EXTRA if layout == "KH-F" else KGF_EXTRA).items():
            if index < len(n):
                extra[name] = round(n[index] * scale, 3) if scale != 1 else n[index]
        soc = None
        if capacity:
            soc = round(min(100.0, max(0.0, remaining / capacity * 100)), 2)
            extra["soc_source"] = "counter"
        alarm = OUTPUT_ALARMS.get(n[OUTPUT])
        return BatterySample(
            timestamp=timestamp,
            voltage_v=round(n[VOLT] * 0.01, 2),
            current_a=current,
            soc_pct=soc,
            charge_ah=remaining,
            capacity_ah=capacity,
            temperatures_c=(n[TEMP] - TEMP_OFFSET,),
            alarms=frozenset({alarm} if alarm else ()),
            extra=extra,
        )
