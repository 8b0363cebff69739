"""CCL / DCL / CVL of one battery, from its (averaged, plausible) sample and its config.

CCL and DCL are the minimum of every applicable rule: the configured maximum, 0 for a BMS
alarm on that side (``core.alarm_limits``), the BMS's own limit (``BMS_LIMIT_KEYS`` in the
sample's ``extra``: CAN, BYD Modbus, MQTT JSON ``Info``, a remote batmux), the cell-voltage,
temperature (min and max temperature both evaluated), MOSFET temperature and optional SoC
tables, and the switches. A DCL latch holds discharge at 0 after a cell undervoltage until
the cell has recovered by a hysteresis. During a SoC-reset charge the charge cell-voltage
table moves up by (reset − max cell voltage), otherwise it would stop the current before the
reset voltage.
A BMS's own CVL also caps the computed one (rule ``bms``) and its low-voltage limit raises
DVL. Stale data → 0 A at once.
``ChargeLimits.reason`` names the binding rule of each limit, or is exactly ``stale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from batmux.core.alarm_limits import alarm_rule, blocking_alarm
from batmux.core.bank_config import LimitsConfig
from batmux.core.cvl import CvlState, compute_cvl
from batmux.core.ramp import HoldRamp
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample

DEFAULT_MAX_CHARGE_A = 50.0
DEFAULT_MAX_DISCHARGE_A = 60.0
STALE = "stale"
EPS_V = 1e-6  # 2.9 + 0.1 must count as reaching 3.0
# The extra keys every source that carries a BMS's own limits fills (volts, amps).
BMS_LIMIT_KEYS = (
    "charge_voltage_limit",
    "charge_current_limit",
    "discharge_current_limit",
    "discharge_voltage_limit",
)


@dataclass(frozen=True, slots=True)
class LimitResult:
    """Limits plus the rule that bound each one (groups name their binding member's rule)."""

    limits: ChargeLimits
    charge_rule: str
    discharge_rule: str
    voltage_rule: str


def compose_reason(charge: str, discharge: str, voltage: str) -> str:
    if charge == discharge == STALE:
        return STALE
    return f"charge:{charge} discharge:{discharge} cvl:{voltage}"


@dataclass(slots=True)
class LimitState:
    cvl: CvlState = field(default_factory=CvlState)
    ccl: HoldRamp = field(default_factory=HoldRamp)
    dcl: HoldRamp = field(default_factory=HoldRamp)
    latched: bool = False


def stale_result(cvl: float, dvl: float | None, ccl: HoldRamp, dcl: HoldRamp) -> LimitResult:
    ccl.force(0.0)
    dcl.force(0.0)
    limits = ChargeLimits(cvl, 0.0, 0.0, dvl, STALE)
    return LimitResult(limits, STALE, STALE, STALE)


def _lowest(candidates: list[tuple[str, float]]) -> tuple[float, str]:
    best_rule, best = candidates[0]
    for rule, value in candidates[1:]:
        if value < best:
            best_rule, best = rule, value
    return max(0.0, best), best_rule


def _bms_limit(sample: BatterySample, key: str) -> float | None:
    value = sample.extra.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def current_targets(
    cfg: LimitsConfig, sample: BatterySample, charge_table_shift_v: float = 0.0
) -> tuple[tuple[float, str], tuple[float, str]]:
    """((CCL, rule), (DCL, rule)) before latch and anti-flapping."""
    max_c = cfg.max_charge_current if cfg.max_charge_current is not None else DEFAULT_MAX_CHARGE_A
    max_d = (
        cfg.max_discharge_current
        if cfg.max_discharge_current is not None
        else DEFAULT_MAX_DISCHARGE_A
    )
    charge: list[tuple[str, float]] = [("configured", max_c)]
    discharge: list[tuple[str, float]] = [("configured", max_d)]
    if cfg.alarm_limits:  # listed before the switches: a tripped BMS is named by its alarm
        for rules, is_charge in ((charge, True), (discharge, False)):
            alarm = blocking_alarm(sample.alarms, charge=is_charge)
            if alarm is not None:
                rules.append((alarm_rule(alarm), 0.0))
    for rules, key in ((charge, "charge_current_limit"), (discharge, "discharge_current_limit")):
        bms = _bms_limit(sample, key)
        if bms is not None:
            rules.append(("bms", bms))
    if sample.charge_enabled is False:
        charge.append(("charge_switch_off", 0.0))
    if sample.discharge_enabled is False:
        discharge.append(("discharge_switch_off", 0.0))
    # min/max of cells and sensors once each: this runs per battery per publish
    cells = sample.cell_voltages_v
    if cells:
        frac = cfg.charge_cell_voltage_table.table(max(cells) - charge_table_shift_v)
        charge.append(("cell_voltage", max_c * frac))
        frac = cfg.discharge_cell_voltage_table.table(min(cells))
        discharge.append(("cell_voltage", max_d * frac))
    temps = sample.temperatures_c
    if temps:
        coldest, hottest = min(temps), max(temps)
        for rules, table, top in (
            (charge, cfg.charge_temperature_table.table, max_c),
            (discharge, cfg.discharge_temperature_table.table, max_d),
        ):
            rules.append(("temperature", top * min(table(coldest), table(hottest))))
    if sample.mos_temperature_c is not None:
        frac = cfg.mos_temperature_table.table(sample.mos_temperature_c)
        charge.append(("mos_temperature", max_c * frac))
        discharge.append(("mos_temperature", max_d * frac))
    if cfg.soc_tables and sample.soc_pct is not None:
        charge.append(("soc", max_c * cfg.charge_soc_table.table(sample.soc_pct)))
        discharge.append(("soc", max_d * cfg.discharge_soc_table.table(sample.soc_pct)))
    return _lowest(charge), _lowest(discharge)


def _update_latch(cfg: LimitsConfig, sample: BatterySample, state: LimitState) -> None:
    low = sample.min_cell_v
    if low is None:
        return
    if low <= cfg.cell_voltage_min:
        state.latched = True
    elif state.latched and low >= cfg.cell_voltage_min + cfg.latch_hysteresis_v - EPS_V:
        state.latched = False


def battery_limits(
    cfg: LimitsConfig,
    sample: BatterySample | None,
    fresh: bool,
    state: LimitState,
    now: float,
) -> LimitResult:
    """Limits for one battery; advances ``state`` (absorption timer, latch, hold/ramp)."""
    cells = (len(sample.cell_voltages_v) if sample is not None else 0) or cfg.cell_count
    dvl = cells * cfg.cell_voltage_min if cells else None
    if sample is None or not fresh:
        return stale_result(state.cvl.value or 0.0, dvl, state.ccl, state.dcl)
    bms_cvl = _bms_limit(sample, "charge_voltage_limit")
    if not cells and bms_cvl is None:
        state.ccl.force(0.0)
        state.dcl.force(0.0)
        rule = "no_cell_data"
        limits = ChargeLimits(0.0, 0.0, 0.0, None, compose_reason(rule, rule, rule))
        return LimitResult(limits, rule, rule, rule)
    if cells:
        cvl, voltage_rule = compute_cvl(cfg, sample, cells, state.cvl, now)
        # A BMS's own limits always cap batmux's: the lower CVL, the higher low-voltage limit.
        if bms_cvl is not None and bms_cvl < cvl:
            cvl, voltage_rule = bms_cvl, "bms"
            state.cvl.value = cvl  # what a stale battery keeps showing
        bms_dvl = _bms_limit(sample, "discharge_voltage_limit")
        if bms_dvl is not None and (dvl is None or bms_dvl > dvl):
            dvl = bms_dvl
    else:
        # A battery that reports only its own limits (Pylontech/BYD over CAN or Modbus): its
        # CVL/DVL stand; its current limits still meet the configured maxima and the tables.
        cvl, voltage_rule = bms_cvl, "bms"
        state.cvl.value = cvl
        dvl = _bms_limit(sample, "discharge_voltage_limit")
    shift = cfg.soc_reset_cell_voltage - cfg.cell_voltage_max if state.cvl.soc_reset_active else 0.0
    (ccl, charge_rule), (dcl, discharge_rule) = current_targets(cfg, sample, shift)
    _update_latch(cfg, sample, state)
    if state.latched:
        dcl, discharge_rule = 0.0, "undervoltage_latch"
    ccl_out = state.ccl.step(ccl, now, cfg.hold_s, cfg.ramp_a_per_s)
    dcl_out = state.dcl.step(dcl, now, cfg.hold_s, cfg.ramp_a_per_s)
    if ccl_out < ccl:
        charge_rule = "recovering"
    if dcl_out < dcl:
        discharge_rule = "recovering"
    reason = compose_reason(charge_rule, discharge_rule, voltage_rule)
    limits = ChargeLimits(round(cvl, 3), round(ccl_out, 2), round(dcl_out, 2), dvl, reason)
    return LimitResult(limits, charge_rule, discharge_rule, voltage_rule)
