"""Victron VE.Direct text fields: label → value of one block → ``BatterySample``.

A battery monitor (BMV/SmartShunt) becomes a battery; a solar charger (MPPT, recognized by its
panel/charger labels) becomes an ``MpptReading``, a current source into the battery. Numbers
arrive as decimal text in the device's units (mV, mA, 0.1 %, 0.01 kWh); ``---`` means unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue

CHARGER_STATES: dict[int, str] = {
    0: "off",
    1: "low_power",
    2: "fault",
    3: "bulk",
    4: "absorption",
    5: "float",
    6: "storage",
    7: "equalize",
    9: "inverting",
    11: "power_supply",
    245: "starting",
    246: "repeated_absorption",
    247: "auto_equalize",
    248: "battery_safe",
    252: "external_control",
}
TRACKER_MODES: dict[int, str] = {0: "off", 1: "voltage_current_limited", 2: "mppt"}
CHARGER_ERRORS: dict[int, str] = {
    0: "none",
    2: "battery_voltage_too_high",
    17: "charger_temperature_too_high",
    18: "charger_over_current",
    19: "charger_current_reversed",
    20: "bulk_time_limit_exceeded",
    21: "current_sensor_issue",
    26: "terminals_overheated",
    28: "converter_issue",
    33: "input_voltage_too_high",
    34: "input_current_too_high",
    38: "input_shutdown_battery_voltage",
    39: "input_shutdown_current_flow",
    65: "lost_communication",
    66: "synchronised_charging_config",
    67: "bms_connection_lost",
    68: "network_misconfigured",
    116: "factory_calibration_lost",
    117: "invalid_firmware",
    119: "user_settings_invalid",
}
# AR (alarm reason) bits → normalized alarms; bits without a counterpart stay in alarm_reason.
ALARM_REASON_BITS: dict[int, Alarm] = {
    1: Alarm.PACK_UNDERVOLTAGE,
    2: Alarm.PACK_OVERVOLTAGE,
    4: Alarm.LOW_SOC,
    32: Alarm.DISCHARGE_UNDERTEMP,
    64: Alarm.DISCHARGE_OVERTEMP,
    128: Alarm.CELL_IMBALANCE,  # mid-point voltage: half the bank drifts from the other
    256: Alarm.DISCHARGE_OVERCURRENT,
    4096: Alarm.SHORT_CIRCUIT,
    8192: Alarm.BMS_FAULT,
}

# label → (extra name, scale) for plain numeric fields that go to ``extra`` as they are.
NUMERIC_EXTRA: dict[str, tuple[str, float]] = {
    "VS": ("aux_voltage", 0.001),
    "VM": ("mid_voltage", 0.001),
    "DM": ("mid_deviation_pct", 0.1),
    "CE": ("consumed_ah", 0.001),
    "AR": ("alarm_reason", 1),
    "H1": ("deepest_discharge_ah", 0.001),
    "H2": ("last_discharge_ah", 0.001),
    "H3": ("average_discharge_ah", 0.001),
    "H5": ("full_discharges", 1),
    "H6": ("total_ah_drawn", 0.001),
    "H7": ("min_voltage", 0.001),
    "H8": ("max_voltage", 0.001),
    "H9": ("seconds_since_full_charge", 1),
    "H10": ("automatic_syncs", 1),
    "H11": ("low_voltage_alarms", 1),
    "H12": ("high_voltage_alarms", 1),
    "H13": ("low_aux_voltage_alarms", 1),
    "H14": ("high_aux_voltage_alarms", 1),
    "H15": ("min_aux_voltage", 0.001),
    "H16": ("max_aux_voltage", 0.001),
    "H17": ("discharged_energy_kwh", 0.01),
    "H18": ("charged_energy_kwh", 0.01),
}
MPPT_LABELS = frozenset({"VPV", "PPV", "CS", "MPPT", "ERR", "H19", "H20", "H21", "H22", "H23"})


MAX_DIGITS = 20  # real values have at most 10 digits; 400 would overflow a float


def _num(fields: Mapping[str, str], label: str, scale: float = 1.0) -> float | None:
    """A scaled number, None when absent or '---' (what devices send for 'not known')."""
    raw = fields.get(label)
    if raw is None or raw.strip("-") == "":
        return None
    if len(raw) > MAX_DIGITS:  # a garbled block whose checksum matched by chance
        raise CorruptFrame(f"{label}: a {len(raw)}-character number")
    try:
        value = int(raw, 0) if raw.lower().startswith("0x") else int(raw)
    except ValueError:
        raise CorruptFrame(f"{label}: not a number: {raw[:16]!r}") from None
    return round(value * scale, 6) if scale != 1.0 else value


def _on(fields: Mapping[str, str], label: str) -> bool | None:
    raw = fields.get(label)
    return None if raw is None else raw.upper() == "ON"


def is_mppt(fields: Mapping[str, str]) -> bool:
    return not MPPT_LABELS.isdisjoint(fields)


def decode_fields(
    fields: Mapping[str, str], timestamp: float = 0.0, capacity_ah: float | None = None
) -> BatterySample:
    """Fields of a battery monitor (or an MPPT) → BatterySample; I is already + into battery."""
    if is_mppt(fields):
        return decode_mppt(fields, timestamp).to_sample()
    if "V" not in fields and "SOC" not in fields:
        raise ProtocolError("block has neither V nor SOC (history block alone?)")
    extra: dict[str, ExtraValue] = {}
    for label, (name, scale) in NUMERIC_EXTRA.items():
        value = _num(fields, label, scale)
        if value is not None:
            extra[name] = value
    ttg = _num(fields, "TTG")
    if ttg is not None and ttg >= 0:
        extra["time_to_go_s"] = ttg * 60
    for label, name in (("Alarm", "alarm"), ("Relay", "relay")):
        state = _on(fields, label)
        if state is not None:
            extra[name] = state
    for label, name in (("PID", "product_id"), ("FW", "firmware"), ("BMV", "model")):
        if label in fields:
            extra[name] = fields[label]
    reason = int(_num(fields, "AR") or 0)
    alarms = frozenset(a for bit, a in ALARM_REASON_BITS.items() if reason & bit)
    consumed = _num(fields, "CE", 0.001)
    charge = None
    if capacity_ah is not None and consumed is not None:
        charge = round(max(0.0, capacity_ah + consumed), 3)  # CE is ≤ 0 from full
    temperature = _num(fields, "T")
    return BatterySample(
        timestamp=timestamp,
        voltage_v=_num(fields, "V", 0.001),
        current_a=_num(fields, "I", 0.001),
        power_w=_num(fields, "P"),
        soc_pct=_num(fields, "SOC", 0.1),
        charge_ah=charge,
        capacity_ah=capacity_ah,
        cycles=_num(fields, "H4"),
        temperatures_c=() if temperature is None else (float(temperature),),
        alarms=alarms,
        extra=extra,
    )


@dataclass(frozen=True, slots=True)
class MpptReading:
    """One text block of a solar charger (battery side + panel side + charger state)."""

    timestamp: float
    battery_voltage_v: float | None = None
    battery_current_a: float | None = None  # + = into the battery
    pv_voltage_v: float | None = None
    pv_power_w: float | None = None
    state: int | None = None
    tracker_mode: int | None = None
    error: int | None = None
    off_reason: int | None = None
    load_on: bool | None = None
    load_current_a: float | None = None
    yield_total_kwh: float | None = None
    yield_today_kwh: float | None = None
    max_power_today_w: float | None = None
    yield_yesterday_kwh: float | None = None
    max_power_yesterday_w: float | None = None
    product_id: str | None = None
    serial: str | None = None
    firmware: str | None = None
    extra: dict[str, ExtraValue] = field(default_factory=dict)

    @property
    def state_name(self) -> str | None:
        return None if self.state is None else CHARGER_STATES.get(self.state, f"state_{self.state}")

    @property
    def tracker_mode_name(self) -> str | None:
        if self.tracker_mode is None:
            return None
        return TRACKER_MODES.get(self.tracker_mode, f"mode_{self.tracker_mode}")

    @property
    def error_name(self) -> str | None:
        return None if self.error is None else CHARGER_ERRORS.get(self.error, f"error_{self.error}")

    @property
    def charging(self) -> bool | None:
        return None if self.state is None else self.state not in (0, 2)

    def to_sample(self) -> BatterySample:
        """The charger as a current source: battery V/I plus the charger's state in ``extra``."""
        extra: dict[str, ExtraValue] = dict(self.extra)
        names: dict[str, ExtraValue | None] = {
            "charging": self.charging,
            "pv_voltage": self.pv_voltage_v,
            "pv_power": self.pv_power_w,
            "charger_state": self.state_name,
            "tracker_mode": self.tracker_mode_name,
            "charger_error": self.error_name,
            "off_reason": self.off_reason,
            "load_on": self.load_on,
            "load_current": self.load_current_a,
            "yield_total_kwh": self.yield_total_kwh,
            "yield_today_kwh": self.yield_today_kwh,
            "max_power_today_w": self.max_power_today_w,
            "yield_yesterday_kwh": self.yield_yesterday_kwh,
            "max_power_yesterday_w": self.max_power_yesterday_w,
            "product_id": self.product_id,
            "serial": self.serial,
            "firmware": self.firmware,
        }
        extra.update({k: v for k, v in names.items() if v is not None})
        return BatterySample(
            timestamp=self.timestamp,
            voltage_v=self.battery_voltage_v,
            current_a=self.battery_current_a,
            extra=extra,
        )


def decode_mppt(fields: Mapping[str, str], timestamp: float = 0.0) -> MpptReading:
    if "V" not in fields:
        raise ProtocolError("MPPT block without V")
    off_reason = fields.get("OR")
    try:
        off = int(off_reason, 16) if off_reason else None
    except ValueError:
        raise CorruptFrame(f"OR: not hex: {off_reason[:16]!r}") from None
    hsds = _num(fields, "HSDS")
    return MpptReading(
        timestamp=timestamp,
        battery_voltage_v=_num(fields, "V", 0.001),
        battery_current_a=_num(fields, "I", 0.001),
        pv_voltage_v=_num(fields, "VPV", 0.001),
        pv_power_w=_num(fields, "PPV"),
        state=_int_or_none(_num(fields, "CS")),
        tracker_mode=_int_or_none(_num(fields, "MPPT")),
        error=_int_or_none(_num(fields, "ERR")),
        off_reason=off,
        load_on=_on(fields, "LOAD"),
        load_current_a=_num(fields, "IL", 0.001),
        yield_total_kwh=_num(fields, "H19", 0.01),
        yield_today_kwh=_num(fields, "H20", 0.01),
        max_power_today_w=_num(fields, "H21"),
        yield_yesterday_kwh=_num(fields, "H22", 0.01),
        max_power_yesterday_w=_num(fields, "H23"),
        product_id=fields.get("PID"),
        serial=fields.get("SER#"),
        firmware=fields.get("FW"),
        extra={} if hsds is None else {"day_sequence": hsds},
    )


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)
