"""BYD Battery-Box Premium HVS over CAN ("BYD CAN": Sungrow, GoodWe, Solis, Deye, SolaX ...).

500 kbit/s, 11-bit ids, DLC 8, **big-endian** fields. Battery → inverter (vector
byd_hvs_can_sunshadecorp, HVS + Sungrow SH10RT):

    0x110 limits  09 20 | 06 40 | 01 00 | 01 00   max charge 233.6 V, min discharge 160.0 V,
                                                  max discharge 25.6 A, max charge 25.6 A
    0x150 states  26 0C | 27 10 | 00 F3 | 00 FA   SoC 97.40 %, SOH 100.00 %, 24.3 Ah of 25.0 Ah
    0x1D0 info    08 49 | 00 00 | 00 B4 | 03 08   212.1 V, 0.0 A (+ = charging), 18.0 °C, 03 08
    0x210 temps   00 BE | 00 B4 | 00 ...          max 19.0 °C, min 18.0 °C
    0x190 alarm   00 00 00 04 00 00 00 00         meaning unknown, sent static
    init burst on request: 0x250 (firmware, capacity 0.1 kWh), 0x290, 0x2D0 "BYD", 0x3D0 ×4.

Inverter → battery: 0x151 (byte 0 bit 0 = identification request, else bytes 1-7 = name),
0x091 (measured V/I/T), 0x0D1 (SoC 0.1 %), 0x111 (time), 0x191 (unknown). Any = alive.

The SMA Sunny Boy Storage dialect uses the same layouts on other ids (0x358/0x3D8/0x4D8/0x518)
with a real state in 0x4D8 byte 6 (3 ready, 2 stop); it is decoded and encoded here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from batmux.errors import ProtocolError
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.protocols.base import Field, read_table
from batmux.protocols.can_codec import CanCodec, ascii_text, encode_fields
from batmux.protocols.candump import Frame
from batmux.protocols.inverter_limits import UNSAFE_REASONS

Fallback = Literal["none", "soc_window", "standby"]


def _be(name: str, offset: int, size: int = 2, signed: bool = False, scale: float = 1.0) -> Field:
    return Field(name, offset, size, signed, scale, "big")


LIMITS = (
    _be("charge_voltage_limit", 0, scale=0.1),
    _be("discharge_voltage_limit", 2, scale=0.1),
    _be("discharge_current_limit", 4, signed=True, scale=0.1),
    _be("charge_current_limit", 6, scale=0.1),
)
STATES = (
    _be("soc", 0, scale=0.01),
    _be("soh", 2, scale=0.01),
    _be("charge", 4, scale=0.1),
    _be("capacity", 6, scale=0.1),
)
INFO = (
    _be("voltage", 0, signed=True, scale=0.1),
    _be("current", 2, signed=True, scale=0.1),
    _be("temperature", 4, signed=True, scale=0.1),
    _be("state", 6, size=1),
    _be("info_tail", 7, size=1),
)
TEMPS = (
    _be("max_temperature", 0, signed=True, scale=0.1),
    _be("min_temperature", 2, signed=True, scale=0.1),
)
INIT1 = (_be("fw_major", 0, 1), _be("fw_minor", 1, 1), _be("capacity_kwh", 4, scale=0.1))
INVERTER_MEASURE = (
    _be("voltage", 0, signed=True, scale=0.1),
    _be("current", 2, signed=True, scale=0.1),
    _be("temperature", 4, signed=True, scale=0.1),
)
INVERTER_SOC = (_be("soc", 0, scale=0.1),)

STATE_READY = 3  # 0x1D0 byte 6 (BYD always 3; SMA dialect: 3 ready, 2 stop)
STATE_STOP = 2
ALARM_STATIC = bytes.fromhex("0000000400000000")
INIT2_STATIC = bytes.fromhex("063710D900000000")
INIT1_STATIC_3 = 0x66
INIT1_TAIL = bytes.fromhex("0209")

INV_REQUEST, INV_MEASURE, INV_SOC, INV_TIME, INV_UNKNOWN = 0x151, 0x091, 0x0D1, 0x111, 0x191
INVERTER_IDS = frozenset({INV_REQUEST, INV_MEASURE, INV_SOC, INV_TIME, INV_UNKNOWN})


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    limits: int
    states: int
    info: int
    temps: int
    alarm: int | None = None
    init: tuple[int, int, int, int] | None = None  # 0x250, 0x290, 0x2D0, 0x3D0


BYD = Dialect("byd_can", 0x110, 0x150, 0x1D0, 0x210, alarm=0x190, init=(0x250, 0x290, 0x2D0, 0x3D0))
SMA_BYD_HVS = Dialect("sma_byd_hvs", 0x358, 0x3D8, 0x4D8, 0x518)
PERIODIC_IDS = (BYD.limits, BYD.states, BYD.info, BYD.temps, 0x190)


@dataclass(frozen=True, slots=True)
class BydIdentity:
    fw_major: int = 3
    fw_minor: int = 0x16  # "3.16", as the real HVS
    manufacturer: str = "BYD"
    model: str = "Battery-Box Premium HVS"
    capacity_kwh: float | None = None  # None: capacity_ah × voltage of the live sample


@dataclass(frozen=True, slots=True)
class BydCanOptions:
    identity: BydIdentity = field(default_factory=BydIdentity)
    deye_workaround: bool = False  # SoC 100 % / 0 % when the charge / discharge limit is 0
    fallback: Fallback = "none"  # what else to do when the battery is stale
    dialect: Dialect = BYD


# -- encoders: named values → payload ---------------------------------------------------------


def encode_limits(values: Mapping[str, float | None]) -> bytes:
    return encode_fields(LIMITS, values)


def encode_states(values: Mapping[str, float | None]) -> bytes:
    return encode_fields(STATES, values)


def encode_info(values: Mapping[str, float | None]) -> bytes:
    return encode_fields(INFO, {"state": STATE_READY, "info_tail": 0x08, **values})


def encode_temps(values: Mapping[str, float | None]) -> bytes:
    return encode_fields(TEMPS, values)


def encode_init1(fw_major: int, fw_minor: int, capacity_kwh: float) -> bytes:
    body = bytearray(
        encode_fields(
            INIT1, {"fw_major": fw_major, "fw_minor": fw_minor, "capacity_kwh": capacity_kwh}
        )
    )
    body[3] = INIT1_STATIC_3
    body[6:8] = INIT1_TAIL
    return bytes(body)


def encode_text_frames(text: str, count: int = 4) -> list[bytes]:
    """0x3D0: byte 0 = segment index, bytes 1-7 = ASCII, NUL padded."""
    raw = text.encode("ascii", "replace")[: 7 * count].ljust(7 * count, b"\x00")
    return [bytes([i]) + raw[7 * i : 7 * i + 7] for i in range(count)]


def encode_manufacturer(text: str) -> bytes:
    return b"\x00" + text.encode("ascii", "replace")[:7].ljust(7, b"\x00")


# -- state → frames (the sink's pure builder) --------------------------------------------------


def _temps(state: BatteryState) -> tuple[float | None, float | None, float | None]:
    """(average, max, min) over the cell/pack sensors."""
    sample = state.sample
    temps = sample.temperatures_c if sample else ()
    if not temps:
        return None, None, None
    return round(sum(temps) / len(temps), 1), max(temps), min(temps)


def state_values(
    state: BatteryState | None, limits: ChargeLimits, opts: BydCanOptions
) -> dict[str, float | None]:
    """Everything the periodic frames carry, with the workaround and fallback applied."""
    sample = state.sample if state is not None else None
    soc = sample.soc_pct if sample else None
    capacity = sample.capacity_ah if sample else None
    charge = sample.charge_ah if sample else None
    if charge is None and soc is not None and capacity is not None:
        charge = capacity * soc / 100
    voltage = sample.voltage_v if sample else None
    avg, t_max, t_min = _temps(state) if state is not None else (None, None, None)
    values: dict[str, float | None] = {
        "charge_voltage_limit": limits.charge_voltage_v,
        "discharge_voltage_limit": limits.discharge_voltage_v,
        "discharge_current_limit": limits.discharge_current_a,
        "charge_current_limit": limits.charge_current_a,
        "soc": soc,
        "soh": (sample.soh_pct if sample and sample.soh_pct is not None else 100.0),
        "charge": charge,
        "capacity": capacity,
        "voltage": voltage,
        "current": sample.current_a if sample else None,
        "temperature": avg,
        "max_temperature": t_max,
        "min_temperature": t_min,
        "state": STATE_READY,
    }
    stale = limits.reason in UNSAFE_REASONS
    if opts.deye_workaround or (stale and opts.fallback == "soc_window"):
        if limits.blocks_charge:
            values["soc"] = 100.0  # both blocked: never invite a forced charge at 0 %
        elif limits.blocks_discharge:
            values["soc"] = 0.0
    if stale and opts.fallback == "soc_window" and voltage:
        # close the voltage window on the last known voltage: no room either way
        values["charge_voltage_limit"] = voltage
        values["discharge_voltage_limit"] = voltage
    if stale:  # no trustworthy data: "stop" (the SMA-BYD dialect's value; no fault bit is known)
        values["state"] = STATE_STOP
    return values


def build_periodic(
    state: BatteryState | None, limits: ChargeLimits, opts: BydCanOptions | None = None
) -> dict[int, bytes]:
    """id → payload of every periodic frame (the sink sends each on its own period)."""
    opts = opts or BydCanOptions()
    d = opts.dialect
    values = state_values(state, limits, opts)
    frames = {
        d.limits: encode_limits(values),
        d.states: encode_states(values),
        d.info: encode_info(values),
        d.temps: encode_temps(values),
    }
    if d.alarm is not None:
        frames[d.alarm] = ALARM_STATIC
    return frames


def build_init_burst(state: BatteryState | None, opts: BydCanOptions | None = None) -> list[Frame]:
    """0x250, 0x290, 0x2D0, 0x3D0 ×4: the answer to an identification request."""
    opts = opts or BydCanOptions()
    ident = opts.identity
    capacity_kwh = ident.capacity_kwh
    sample = state.sample if state is not None else None
    if capacity_kwh is None and sample and sample.capacity_ah and sample.voltage_v:
        capacity_kwh = sample.capacity_ah * sample.voltage_v / 1000
    i1, i2, i3, i4 = BYD.init  # type: ignore[misc]
    burst = [
        (i1, encode_init1(ident.fw_major, ident.fw_minor, capacity_kwh or 0.0)),
        (i2, INIT2_STATIC),
        (i3, encode_manufacturer(ident.manufacturer)),
    ]
    burst += [(i4, part) for part in encode_text_frames(ident.model)]
    return burst


# -- inverter side (used by the simulated inverter and by the sink to parse requests) -----------


@dataclass(frozen=True, slots=True)
class InverterFrame:
    can_id: int
    identification_request: bool = False
    name: str = ""
    values: Mapping[str, float] = field(default_factory=dict)


def encode_request(identify: bool = True, name: str = "") -> bytes:
    if identify:
        return bytes([0x01]) + bytes(7)
    return b"\x00" + name.encode("ascii", "replace")[:7].ljust(7, b"\x00")


def encode_inverter_measure(voltage_v: float, current_a: float, temperature_c: float) -> bytes:
    return encode_fields(
        INVERTER_MEASURE, {"voltage": voltage_v, "current": current_a, "temperature": temperature_c}
    )


def encode_inverter_soc(soc_pct: float) -> bytes:
    return encode_fields(INVERTER_SOC, {"soc": soc_pct})


def parse_inverter_frame(can_id: int, data: bytes) -> InverterFrame | None:
    """An inverter frame, or None for ids that are not the inverter's."""
    if can_id not in INVERTER_IDS:
        return None
    if can_id == INV_REQUEST:
        if not data:
            raise ProtocolError("0x151 without data")
        if data[0] & 0x01:
            return InverterFrame(can_id, identification_request=True)
        return InverterFrame(can_id, name=ascii_text(data[1:]))
    if can_id == INV_MEASURE and len(data) >= 6:
        return InverterFrame(can_id, values=read_table(INVERTER_MEASURE, data))
    if can_id == INV_SOC and len(data) >= 2:
        return InverterFrame(can_id, values=read_table(INVERTER_SOC, data))
    return InverterFrame(can_id)


# -- battery as a source: frames → sample ------------------------------------------------------


class BydCanCodec(CanCodec):
    """Reads a real BYD HVS/HVM (or another emulator) from its broadcast frames."""

    name = "byd_can"
    dialect: ClassVar[Dialect] = BYD

    def __init__(self) -> None:
        super().__init__()
        d = self.dialect
        lengths = {d.limits: 8, d.states: 8, d.info: 6, d.temps: 4}
        if d.alarm is not None:
            lengths[d.alarm] = 1
        if d.init is not None:
            lengths.update({d.init[0]: 6, d.init[1]: 1, d.init[2]: 4, d.init[3]: 2})
        self.min_length = lengths
        self.model_parts: dict[int, str] = {}

    def feed(self, chunk):  # type: ignore[no-untyped-def,override]
        frames = super().feed(chunk)
        init = self.dialect.init
        for packed in frames:
            if init is not None and int.from_bytes(packed[:4], "big") == init[3]:
                self.model_parts[packed[4] & 0x03] = (
                    packed[5:].split(b"\x00", 1)[0].decode("ascii", "replace")
                )
        return frames

    def decode_latest(self, latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
        d = self.dialect
        info = latest.get(d.info)
        if info is None:
            raise ProtocolError(f"no 0x{d.info:03X} (voltage/current) frame")
        v = read_table(INFO[:3], info)
        extra: dict[str, float | int | str | bool] = {"temperature_avg": v["temperature"]}
        if len(info) >= 7:
            extra["bms_state"] = info[6]
        soc = soh = charge = capacity = None
        if (states := latest.get(d.states)) is not None:
            s = read_table(STATES, states)
            soc, soh, charge, capacity = s["soc"], s["soh"], s["charge"], s["capacity"]
        if d.alarm is not None and (alarm := latest.get(d.alarm)) is not None:
            extra["alarm_frame"] = alarm.hex()  # meaning unknown: kept raw for bug reports
        if (limits := latest.get(d.limits)) is not None:
            extra.update(read_table(LIMITS, limits))
        temps: tuple[float, ...] = (v["temperature"],)
        if (t := latest.get(d.temps)) is not None:
            tv = read_table(TEMPS, t)
            temps = (tv["min_temperature"], tv["max_temperature"])
        if d.init is not None:
            if (i1 := latest.get(d.init[0])) is not None:
                iv = read_table(INIT1, i1)
                extra["firmware"] = f"{int(iv['fw_major'])}.{int(iv['fw_minor']):x}"
                extra["capacity_kwh"] = iv["capacity_kwh"]
            if (i3 := latest.get(d.init[2])) is not None:
                extra["manufacturer"] = ascii_text(i3[1:])
            if self.model_parts:
                extra["model"] = "".join(self.model_parts[k] for k in sorted(self.model_parts))
        return BatterySample(
            timestamp=timestamp,
            voltage_v=v["voltage"],
            current_a=v["current"],
            soc_pct=soc,
            soh_pct=soh,
            charge_ah=charge,
            capacity_ah=capacity,
            temperatures_c=temps,
            extra=extra,
        )


class SmaBydHvsCodec(BydCanCodec):
    """The SMA Sunny Boy Storage dialect of the same frames (decode only)."""

    name = "sma_byd_hvs"
    dialect = SMA_BYD_HVS
