"""BYD Battery-Box Premium HV over Modbus (what a Fronius Gen24 polls), both directions.

Pure register maps, no I/O: ``build_registers`` turns a ``BatteryState`` into the battery's
holding registers (what our emulator serves), ``decode_registers`` turns a real BYD battery's
registers back into a ``BatterySample``. ``EmulatorState`` is the little state machine the
inverter drives by writing 400–418. Wire (0-based) addresses, see protocols/can-modbus.md §1.

Example (log5.txt, 300×24): ``0 0 128 450 10948 492 0 2503 0 0 2056 0 10 30 ...`` →
STANDBY, SoC 4.50 %, 10948 Wh total, 492 Wh left, 0 W discharge / 2503 W charge allowed,
inner voltage 205.6 V, 1.0–3.0 °C.

BYD counts power **positive while discharging**; our model is positive while charging, so
309/311 carry the negated power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from batmux.errors import TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

UNIT_ID = 21  # 0x15; the HHD logs print it in hex as "15"

# (first address, register count); everything else is an illegal address.
IDENTITY = (100, 68)
SYSTEM = (200, 13)
LIVE = (300, 24)
COMMAND = (400, 19)
ALARMS = (1000, 100)
BLOCKS = (IDENTITY, SYSTEM, LIVE, COMMAND, ALARMS)

REG_STATE = 300
REG_COMMAND = 400
REG_KEEPALIVE = 401
MODE_NORMAL = 128  # bit 7; every real capture shows 128, whatever the power
PEAK_FACTOR = 1.3  # 13312 W peak / 10240 W continuous on a real HVM 11.0
PEAK_SECONDS = 10
UNKNOWN_SOH_PPTT = 9900  # BYD packs report 99.00 %; BE hard-codes the same

Fallback = Literal["none", "standby", "fault"]


class BydState(IntEnum):
    STANDBY = 0
    INACTIVE = 1
    DARKSTART = 2
    ACTIVE = 3
    FAULT = 4
    UPDATING = 5


# 400 command → state; the real pack showed ACTIVE after 400=2 (PreCharge in the BMU log).
_STATE_CODES = frozenset(int(s) for s in BydState)
COMMAND_STATES = {0: BydState.STANDBY, 1: BydState.INACTIVE, 2: BydState.ACTIVE}


@dataclass(frozen=True, slots=True)
class Identity:
    """Strings of the 100–167 block. A realistic serial and firmware matter: Fronius
    firmware 1.36.5-1 rejected the all-zero serial that emulators used to send."""

    manufacturer: str = "BYD"
    model: str = "BYD Battery-Box Premium HV"
    version: str = "5.0"
    firmware: str = "3.26"
    serial: str = "P030T020Z2008100001"


def defined(address: int, count: int) -> bool:
    """True when every register of ``address``..``address+count-1`` exists."""
    return count > 0 and any(a <= address and address + count <= a + n for a, n in BLOCKS)


def writable(address: int, count: int) -> bool:
    start, n = COMMAND
    return count > 0 and start <= address and address + count <= start + n


def u16(value: float) -> int:
    return max(0, min(0xFFFF, round(value)))


def s16(value: float) -> int:
    """Clamp to a signed 16-bit register and return its two's-complement u16 form."""
    return max(-0x8000, min(0x7FFF, round(value))) & 0xFFFF


def to_s16(raw: int) -> int:
    return raw - 0x10000 if raw & 0x8000 else raw


def pack_string(text: str, registers: int) -> list[int]:
    """ASCII, two characters per register, high byte first, NUL padded (truncated to fit)."""
    raw = text.encode("ascii", "replace")[: registers * 2].ljust(registers * 2, b"\0")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]


def unpack_string(regs: Sequence[int]) -> str:
    raw = b"".join(r.to_bytes(2, "big") for r in regs)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def u64_words(value: float) -> list[int]:
    """Unsigned 64-bit, most significant word first (lifetime Wh counters)."""
    v = max(0, min(0xFFFF_FFFF_FFFF_FFFF, round(value)))
    return [(v >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]


Silent = Literal["report", "stop"]


@dataclass
class EmulatorState:
    """What the inverter has written, and what the emulated battery says because of it.

    Reported state (register 300):

    * before the first trustworthy battery state: INACTIVE, the "not ready" state a real pack
      shows at power-up until the Gen24 activates it (0 W allowed, no outer voltage);
    * stale after that (no data for ``stale_after_s``, unavailable, stale limits): the
      ``fallback`` state, FAULT by default, as Battery-Emulator reports a missing battery
      (its error-level event turns the system status to FAULT, served in 300); 0 W allowed;
    * otherwise the state the inverter commanded through 400 (ACTIVE after 400=2).
    """

    fallback: Fallback = "fault"
    alive_timeout_s: float = 60.0
    stale_after_s: float | None = None  # a state older than this (last_good_at) is stale
    on_inverter_silent: Silent = "report"  # "stop": 0 W while no request came for alive_timeout
    state: BydState = BydState.INACTIVE
    command: list[int] = field(default_factory=lambda: [0] * COMMAND[1])
    last_toggle_at: float | None = None
    last_request_at: float | None = None
    writes: int = 0
    ready: bool = False  # latched on the first trustworthy battery state

    def apply_write(self, address: int, values: Sequence[int], now: float) -> bool:
        """Store a write to 400–418; False (nothing stored) for anything else."""
        if not writable(address, len(values)) or any(not 0 <= v <= 0xFFFF for v in values):
            return False
        for offset, value in enumerate(values, start=address - COMMAND[0]):
            reg = COMMAND[0] + offset
            if reg == REG_KEEPALIVE and value != self.command[offset]:
                self.last_toggle_at = now
            if reg == REG_COMMAND and value in COMMAND_STATES:
                self.state = COMMAND_STATES[value]
            self.command[offset] = value
        self.writes += 1
        return True

    def inverter_alive(self, now: float) -> bool:
        """The keep-alive register 401 changed within ``alive_timeout_s``."""
        return self.last_toggle_at is not None and now - self.last_toggle_at <= self.alive_timeout_s

    def inverter_silent(self, now: float) -> bool:
        """No request from the inverter within ``alive_timeout_s`` (never one counts too)."""
        last = self.last_request_at
        return last is None or now - last > self.alive_timeout_s

    def is_stale(self, state: BatteryState | None, now: float) -> bool:
        if state is None or not state.available or state.sample is None:
            return True
        if state.limits is not None and state.limits.reason == "stale":
            return True
        limit = self.stale_after_s
        return bool(limit and state.last_good_at and now - state.last_good_at > limit)

    def reported_state(self, state: BatteryState | None, now: float) -> BydState:
        if not self.is_stale(state, now):
            self.ready = True
            return self.state
        if not self.ready:
            return BydState.INACTIVE
        if self.fallback == "standby":
            return BydState.STANDBY
        if self.fallback == "fault":
            return BydState.FAULT
        return self.state


def pack_capacity_wh(state: BatteryState | None) -> float:
    """Capacity × voltage of the state's sample (0 when unknown)."""
    sample = state.sample if state is not None else None
    if sample is None or sample.capacity_ah is None or sample.voltage_v is None:
        return 0.0
    return sample.capacity_ah * sample.voltage_v


def _dc(value: float | None) -> int:
    return s16(value * 10) if value is not None else 0


def build_registers(
    state: BatteryState | None,
    emu: EmulatorState,
    now: float,
    identity: Identity = Identity(),
    rated_wh: float | None = None,
) -> dict[int, int]:
    """Every defined register (u16 values) for this battery state at ``now``. ``rated_wh``
    is the Wh the power ratings follow (default: the state's capacity)."""
    regs: dict[int, int] = {}

    def put(address: int, values: Sequence[int]) -> None:
        regs.update(zip(range(address, address + len(values)), values, strict=True))

    put(100, [0x5349, 1])  # "SI", 1
    put(102, pack_string(identity.manufacturer, 16))
    put(118, pack_string(identity.model, 16))
    put(134, pack_string(identity.version, 8))
    put(142, pack_string(identity.firmware, 8))
    put(150, pack_string(identity.serial, 16))
    put(166, [1, 0])

    sample = state.sample if state is not None else None
    stale = emu.is_stale(state, now)
    reported = emu.reported_state(state, now)
    limits = state.limits if state is not None else None
    volts = sample.voltage_v if sample is not None and sample.voltage_v is not None else 0.0

    capacity_wh = pack_capacity_wh(state)
    rated_w = min(capacity_wh if rated_wh is None else rated_wh, 0xFFFF)  # ~1 C, like a HVM
    put(200, [0, 0, u16(capacity_wh), u16(rated_w), u16(rated_w)])
    cvl = limits.charge_voltage_v if limits is not None else 0.0
    dvl = limits.discharge_voltage_v if limits is not None else None
    put(205, [u16(cvl * 10), u16((dvl or 0.0) * 10)])
    peak = u16(rated_w * PEAK_FACTOR)
    put(207, [peak, PEAK_SECONDS, peak, PEAK_SECONDS, 0, 0])

    soc = sample.soc_pct if sample is not None and sample.soc_pct is not None else 0.0
    charge_w = discharge_w = 0.0
    stop = emu.on_inverter_silent == "stop" and emu.inverter_silent(now)
    if limits is not None and not stale and not stop:
        charge_w = max(0.0, limits.charge_current_a) * volts
        discharge_w = max(0.0, limits.discharge_current_a) * volts
    power = sample.power_w if sample is not None and sample.power_w is not None else 0.0
    active = reported == BydState.ACTIVE
    temp_min = sample.min_temperature_c if sample is not None else None
    temp_max = sample.max_temperature_c if sample is not None else None
    device_temp = sample.mos_temperature_c if sample is not None else None
    soh = sample.soh_pct if sample is not None else None
    put(
        300,
        [
            int(reported),
            0,
            MODE_NORMAL,
            u16(soc * 100),
            u16(capacity_wh),
            # the real pack truncates: 4.50 % of 10948 Wh is reported as 492, not 493
            u16(math.floor(min(max(soc, 0.0), 100.0) / 100 * u16(capacity_wh))),
            u16(discharge_w),
            u16(charge_w),
            u16(volts * 10) if active else 0,
            s16(-power) if active else 0,
            u16(volts * 10),
            s16(-power),
            _dc(temp_min),
            _dc(temp_max),
        ],
    )
    meters = state.meters if state is not None else None
    put(314, u64_words(meters.charged_kwh * 1000 if meters else 0))
    put(318, u64_words(meters.discharged_kwh * 1000 if meters else 0))
    put(322, [_dc(device_temp if device_temp is not None else temp_max)])
    put(323, [u16(soh * 100) if soh is not None else UNKNOWN_SOH_PPTT])

    put(COMMAND[0], emu.command)
    put(ALARMS[0], [0] * ALARMS[1])
    return regs


def read_block(regs: Mapping[int, int], address: int, count: int) -> list[int]:
    return [regs[a] for a in range(address, address + count)]


# -- the inverter side ------------------------------------------------------------------------


def startup_write(unix_time: float) -> list[int]:
    """The Gen24's first 9-register write to 400: command 1, keep-alive, 60, time, flag."""
    t = int(unix_time) & 0xFFFFFFFF
    return [1, 0xFF00, 60, 0, 0, t >> 16, t & 0xFFFF, 0, 1]


def toggle_keepalive(value: int) -> int:
    """The Gen24 writes 401 back byte-swapped: 0xFF00 ⇄ 0x00FF."""
    return ((value & 0xFF) << 8) | (value >> 8)


def decode_identity(regs: Mapping[int, int]) -> Identity:
    """Strings of the 100–167 block (raises ``TruncatedFrame`` if part of it is missing)."""
    try:
        return Identity(
            manufacturer=unpack_string(read_block(regs, 102, 16)),
            model=unpack_string(read_block(regs, 118, 16)),
            version=unpack_string(read_block(regs, 134, 8)),
            firmware=unpack_string(read_block(regs, 142, 8)),
            serial=unpack_string(read_block(regs, 150, 16)),
        )
    except KeyError as exc:
        raise TruncatedFrame(f"identity register {exc} missing") from None


def decode_registers(regs: Mapping[int, int], timestamp: float = 0.0) -> BatterySample:
    """A real BYD battery's 300–323 block (and 200–212 if present) as a sample."""
    try:
        live = read_block(regs, *LIVE)
    except KeyError as exc:
        raise TruncatedFrame(f"live register {exc} missing") from None
    (state, _, _mode, soc, total_wh, remaining_wh, dis_w, chg_w, outer_dv, outer_w, inner_dv,
     inner_w, tmin, tmax) = live[:14]  # fmt: skip
    charged_wh = sum(w << s for w, s in zip(live[14:18], (48, 32, 16, 0), strict=True))
    discharged_wh = sum(w << s for w, s in zip(live[18:22], (48, 32, 16, 0), strict=True))
    volts = inner_dv / 10
    power = -to_s16(inner_w)  # BYD: + = discharging
    extra: dict[str, float | int | str | bool] = {
        "byd_state": BydState(state).name.lower() if state in _STATE_CODES else state,
        "capacity_wh": total_wh,
        "remaining_wh": remaining_wh,
        "max_charge_power_w": chg_w,
        "max_discharge_power_w": dis_w,
        "outer_voltage": outer_dv / 10,
        "outer_power": -to_s16(outer_w),
        "total_charged_kwh": charged_wh / 1000,
        "total_discharged_kwh": discharged_wh / 1000,
    }
    if volts:  # the BMS's own limits, in the keys core.limits reads (307/306 W at this voltage)
        extra["charge_current_limit"] = round(chg_w / volts, 2)
        extra["discharge_current_limit"] = round(dis_w / volts, 2)
    if all(a in regs for a in range(SYSTEM[0], SYSTEM[0] + SYSTEM[1])):
        extra["max_voltage"] = regs[205] / 10
        extra["min_voltage"] = regs[206] / 10
        extra["rated_capacity_wh"] = regs[202]
        # 205/206: the window the Gen24 charges up to / disables the battery below
        extra["charge_voltage_limit"] = regs[205] / 10
        extra["discharge_voltage_limit"] = regs[206] / 10
    return BatterySample(
        timestamp=timestamp,
        voltage_v=volts,
        current_a=round(power / volts, 3) if volts else None,
        power_w=float(power),
        soc_pct=soc / 100,
        charge_ah=round(remaining_wh / volts, 3) if volts else None,
        capacity_ah=round(total_wh / volts, 3) if volts else None,
        temperatures_c=(to_s16(tmin) / 10, to_s16(tmax) / 10),
        mos_temperature_c=to_s16(live[22]) / 10,
        charge_enabled=chg_w > 0,
        discharge_enabled=dis_w > 0,
        soh_pct=live[23] / 100,
        alarms=frozenset({Alarm.BMS_FAULT}) if state == BydState.FAULT else frozenset(),
        extra=extra,
    )
