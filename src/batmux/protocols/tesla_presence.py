"""Tesla Model 3/Y vehicle-presence frames: what the rest of the car says while a pack is driven.

Newer pack firmware raises "MIA" alerts (and may refuse to close) when only 0x221 arrives; the
field (Battery-Emulator's Tesla driver) therefore also sends these, on a fixed schedule:

    period  id     name                      payload per send k
    10 ms   0x118  DI_systemStatus           counter byte 1 bits 0-3, checksum byte 0
    10 ms   0x2E1  VCFRONT_status            six muxes in turn
    50 ms   0x3C2  VCLEFT_switchStatus       two muxes in turn (mux 1 first)
    50 ms   0x39D  IBST_status (5 bytes)     counter byte 1 bits 0-3, checksum byte 0
    50 ms   0x3A1  VCFRONT_vehicleStatus     only while the pack reports closed; two payloads
                                             in turn, bytes 6-7 from two 16-entry tables
    100 ms  0x102 0x103 0x241 0x2D1          static
    100 ms  0x229  SCCM_rightStalk (3 bytes) counter byte 1 bits 0-3, byte 0 from a table
    100 ms  0x2A8 0x2E8                      counter byte 6 bits 4-7, checksum byte 7
    100 ms  0x7FF  GTW_carConfig             five muxes in turn; mux 1/3 carry the car's
                                             country, drive side, map region, chassis, pack
    500 ms  0x284 0x333 0x3B3 0x55A          static
    500 ms  0x213  UI_cruiseControl (2 B)    byte 0 = counter << 4, byte 1 = byte 0 + 0x15
    500 ms  0x293 0x313                      counter byte 6 bits 4-7, checksum byte 7
    500 ms  0x334  UI_powertrainControl      an initial frame once, then counted (byte 6/7)
    1 s     0x082                            static
    1 s     0x321  VCFRONT_sensors           counter byte 6 bits 4-7, checksum byte 7

Checksum (the same rule as 0x221): sum of the other bytes + the id's low byte + its high byte,
low 8 bits. Each counter starts where the field's first frame has it and advances by one per
send. Payloads, tables, periods and the "closed only" rule are Battery-Emulator's (commit
62532e94, TESLA-BATTERY.h/.cpp); tests/vectors/tesla_presence/ holds the frames its own code
sends, which this module reproduces byte for byte (except 0x2E8's very first frame, whose
checksum there is wrong). Pure: ``Presence.frames_at(tick, closed)`` per 10 ms tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from batmux.protocols.candump import Frame
from batmux.protocols.tesla_keepalive import checksum

TICK_S = 0.01  # the schedule's resolution; every period is a multiple of it


def set_bits(data: bytearray, start: int, length: int, value: int) -> None:
    """Write ``value`` into ``length`` bits from bit ``start`` (Intel / little-endian)."""
    word = int.from_bytes(data, "little")
    mask = ((1 << length) - 1) << start
    word = (word & ~mask) | ((value << start) & mask)
    data[:] = word.to_bytes(len(data), "little")


def counted(
    base: bytes, can_id: int, counter_byte: int, shift: int, sum_byte: int
) -> Callable[[int], bytes]:
    """Send k → ``base`` with its 4-bit counter advanced by k and the checksum recomputed."""
    first = (base[counter_byte] >> shift) & 0x0F

    def build(k: int) -> bytes:
        body = bytearray(base)
        body[counter_byte] = (body[counter_byte] & ~(0x0F << shift)) | (
            ((first + k) & 0x0F) << shift
        )
        body[sum_byte] = checksum(bytes(body), can_id, sum_byte)
        return bytes(body)

    return build


def in_turn(*payloads: str) -> Callable[[int], bytes]:
    frames = tuple(bytes.fromhex(p) for p in payloads)
    return lambda k: frames[k % len(frames)]


# 0x229: byte 0 is looked up by the counter (an AUTOSAR-style CRC nobody has derived yet)
STALK_CHECK = bytes.fromhex("4644526D4341DDF94CA5F68C492F313B")


def stalk(k: int) -> bytes:
    counter = k & 0x0F
    return bytes([STALK_CHECK[counter], counter, 0x00])


def cruise(k: int) -> bytes:
    value = (k & 0x0F) << 4
    return bytes([value, (value + 0x15) & 0xFF])


VEHICLE_STATUS = (bytes.fromhex("C3FFFFFF3D00"), bytes.fromhex("08620B180028"))
VEHICLE_STATUS_6 = bytes.fromhex("D0E2F002102230425062708290A2B0C2")
VEHICLE_STATUS_7 = bytes.fromhex("01CB21EB410B612B814BA16BC18BE1AB")


def vehicle_status(k: int) -> bytes:
    i = k % 16
    return VEHICLE_STATUS[k % 2] + bytes([VEHICLE_STATUS_6[i], VEHICLE_STATUS_7[i]])


POWERTRAIN_INITIAL = bytes.fromhex("3F3FC800E23F801E")
_powertrain = counted(bytes.fromhex("3F3F000FE23F9075"), 0x334, 6, 4, 7)


def powertrain(k: int) -> bytes:
    """The car's first 0x334 differs; the regular frame then runs from counter 9 + k."""
    return POWERTRAIN_INITIAL if k == 0 else _powertrain(k)


# where each counted frame keeps its checksum byte (for a receiver checking them)
CHECKSUM_AT = {0x118: 0, 0x39D: 0, 0x2A8: 7, 0x2E8: 7, 0x293: 7, 0x313: 7, 0x334: 7, 0x321: 7}


def is_valid(can_id: int, data: bytes) -> bool:
    """The frame's checksum holds (frames without one: True)."""
    at = CHECKSUM_AT.get(can_id)
    return at is None or (len(data) > at and data[at] == checksum(data, can_id, at))


@dataclass(frozen=True, slots=True)
class CarConfig:
    """0x7FF GTW_carConfig settings; a pack may fault if they do not match its donor car.
    Defaults are Battery-Emulator's (DE, right-hand drive, map region 2, chassis 2, pack 1)."""

    country: str = "DE"  # two letters
    right_hand_drive: bool = True
    map_region: int = 2  # 4 bits
    chassis: int = 2  # 3 bits
    pack_energy: int = 1  # 5 bits (BE: 0 = 50, 2 = 62, 1 = 74, 3 = 100 kWh)

    def muxes(self) -> tuple[bytes, ...]:
        mux1 = bytearray.fromhex("0149424700031501")
        code = self.country.upper().encode("ascii")
        set_bits(mux1, 16, 16, (code[0] << 8) | code[1])
        set_bits(mux1, 11, 1, int(self.right_hand_drive))
        mux3 = bytearray.fromhex("0301084801000012")
        set_bits(mux3, 8, 4, self.map_region)
        set_bits(mux3, 18, 3, self.chassis)
        set_bits(mux3, 32, 5, self.pack_energy)
        fixed = [bytes.fromhex(p) for p in ("0266322404499582", "047303675C000000")]
        return (bytes(mux1), fixed[0], bytes(mux3), fixed[1], bytes.fromhex("0500000020000000"))


@dataclass(frozen=True, slots=True)
class Periodic:
    can_id: int
    period_ticks: int
    build: Callable[[int], bytes]  # send index → payload
    closed_only: bool = False

    def due(self, tick: int) -> bool:
        return tick % self.period_ticks == PHASE[self.period_ticks]


# each period group on its own tick (as the field staggers them), so no tick carries them all
PHASE = {1: 0, 5: 1, 10: 2, 50: 3, 100: 4}


def schedule(car: CarConfig) -> tuple[Periodic, ...]:
    """Every frame with its period (in 10 ms ticks) and payload rule."""
    gtw = car.muxes()

    def p(can_id: int, ticks: int, build: Callable[[int], bytes], closed: bool = False) -> Periodic:
        return Periodic(can_id, ticks, build, closed)

    return (
        p(0x118, 1, counted(bytes.fromhex("AB602A0000080000"), 0x118, 1, 0, 0)),
        p(0x2E1, 1, in_turn("290A00FF0F000000", "0200000000000300", "036D99021B570000",
                            "FC1BD1999AD80900", "0500000000000000", "0821046EA0880604")),
        p(0x3C2, 5, in_turn("2955000000000000", "0055555500005A45")),
        p(0x39D, 5, counted(bytes.fromhex("E159C12700"), 0x39D, 1, 0, 0)),
        p(0x3A1, 5, vehicle_status, closed=True),
        p(0x102, 10, in_turn("22330000C0382108")),
        p(0x103, 10, in_turn("2233000030F22002")),
        p(0x229, 10, stalk),
        p(0x241, 10, in_turn("35340C0F8F5500")),
        p(0x2D1, 10, in_turn("FF01")),
        p(0x2A8, 10, counted(bytes.fromhex("020000000080002C"), 0x2A8, 6, 4, 7)),
        p(0x2E8, 10, counted(bytes.fromhex("020010000080006C"), 0x2E8, 6, 4, 7)),
        p(0x7FF, 10, lambda k: gtw[k % len(gtw)]),
        p(0x213, 50, cruise),
        p(0x284, 50, in_turn("1000000000")),
        p(0x293, 50, counted(bytes.fromhex("010C5591551501F3"), 0x293, 6, 4, 7)),
        p(0x313, 50, counted(bytes.fromhex("000000050000001B"), 0x313, 6, 4, 7)),
        p(0x333, 50, in_turn("8430840702")),
        p(0x334, 50, powertrain),
        p(0x3B3, 50, in_turn("9080050800000001")),
        p(0x55A, 50, in_turn("0100000000000000")),
        p(0x082, 100, in_turn("0000008000800080")),
        p(0x321, 100, counted(bytes.fromhex("EC71A76E026C0004"), 0x321, 6, 4, 7)),
    )  # fmt: skip


@dataclass
class Presence:
    """The frames due at each 10 ms tick; counters advance per frame actually built."""

    car: CarConfig = field(default_factory=CarConfig)
    sent: dict[int, int] = field(default_factory=dict)  # sends so far per id

    def __post_init__(self) -> None:
        self._schedule = schedule(self.car)

    def frames_at(self, tick: int, closed: bool) -> list[Frame]:
        """Tick ``tick``'s frames; ``closed``: the pack reports its contactors closed."""
        out: list[Frame] = []
        for item in self._schedule:
            if not item.due(tick) or (item.closed_only and not closed):
                continue
            k = self.sent.get(item.can_id, 0)
            self.sent[item.can_id] = k + 1
            out.append((item.can_id, item.build(k)))
        return out
