"""Charge voltage limit: bulk → absorption → float, and the cell-overvoltage penalty.

LFP cells should not sit at full voltage for hours: once the pack has held CVL with the cells
balanced (spread ≤ 10 mV) for the absorption time, CVL ramps down to cells × float voltage,
and goes back to bulk when SoC falls below the bulk threshold or the cells drift apart.
While any cell is above ``cell_voltage_max`` CVL becomes Σcells − Σovershoots, so the charger
pulls the high cell back to the maximum; that reduction is immediate, its recovery is held and
ramped so the charger does not oscillate.

SoC-reset charge (dbus-serialbattery's SOC_RESET_*): a BMS only resyncs its SoC at a high
voltage, so every ``soc_reset_after_days`` (at once if it never happened) the maximum becomes
cells × ``soc_reset_cell_voltage`` — float returns to bulk — until the pack has absorbed there
like a normal absorption; entering float then ends the reset, restarts the timer and returns
CVL at once to cells × ``cell_voltage_max``, from where it ramps to float as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batmux.core.bank_config import LimitsConfig
from batmux.core.ramp import HoldRamp
from batmux.model.sample import BatterySample

DAY_S = 86400.0
SOC_RESET = "soc_reset"


@dataclass(slots=True)
class CvlState:
    mode: str = "bulk"  # "bulk", "absorption", "float"
    absorption_since: float | None = None
    float_cvl: float | None = None
    last_t: float | None = None
    penalty: HoldRamp = field(default_factory=HoldRamp)
    value: float | None = None  # last CVL, kept while the battery is stale
    soc_reset_last: float | None = None  # when the last reset charge completed (persisted)
    soc_reset_active: bool = False
    soc_reset_done: bool = False  # true for the one update that completed a reset


def _soc_reset_due(cfg: LimitsConfig, state: CvlState, now: float) -> bool:
    days = cfg.soc_reset_after_days
    if days is None:
        return False
    return state.soc_reset_last is None or now - state.soc_reset_last >= days * DAY_S


def penalty_cvl(cells_v: tuple[float, ...], cell_max: float) -> float | None:
    """Σcells − Σ(overshoot of each cell above ``cell_max``), or None when no cell is above."""
    over = [v - cell_max for v in cells_v if v > cell_max]
    if not over:
        return None
    return sum(cells_v) - sum(over)


def compute_cvl(
    cfg: LimitsConfig, sample: BatterySample, cells: int, state: CvlState, now: float
) -> tuple[float, str]:
    """(CVL in volts, the rule that set it) for one battery; advances ``state``."""
    state.soc_reset_done = False
    cell_max = cfg.cell_voltage_max
    if not state.soc_reset_active and _soc_reset_due(cfg, state, now):
        state.soc_reset_active = True
        if state.mode == "float":  # a reset request ends float, like dbus-serialbattery
            state.mode, state.float_cvl = "bulk", None
        if state.penalty.value is not None and state.penalty.value >= cells * cell_max:
            state.penalty.force(cells * cfg.soc_reset_cell_voltage)  # not a recovery: no ramp
    if state.soc_reset_active:
        cell_max = cfg.soc_reset_cell_voltage
    cvl_max = cells * cell_max
    cvl_float = cells * cfg.cell_voltage_float
    cvl_min = cells * cfg.cell_voltage_min
    dt = 0.0 if state.last_t is None else max(0.0, now - state.last_t)
    state.last_t = now
    spread = sample.delta_cell_v
    pack_v = sum(sample.cell_voltages_v) if sample.cell_voltages_v else sample.voltage_v

    if state.mode == "float":
        low_soc = sample.soc_pct is not None and sample.soc_pct < cfg.bulk_soc_pct
        drifted = spread is not None and spread > cfg.bulk_spread_v
        if low_soc or drifted:
            state.mode, state.float_cvl = "bulk", None
        else:
            current = cvl_max if state.float_cvl is None else state.float_cvl
            state.float_cvl = max(cvl_float, current - cfg.float_ramp_v_per_s * dt)

    penalty = penalty_cvl(sample.cell_voltages_v, cell_max)
    target = cvl_max if penalty is None else min(max(penalty, cvl_min), cvl_max)
    limited = state.penalty.step(target, now, cfg.cvl_hold_s, cfg.cvl_ramp_v_per_s)

    if state.mode != "float":
        at_cvl = (
            pack_v is not None
            and pack_v >= cvl_max - cfg.absorption_margin_v
            and spread is not None
            and spread <= cfg.float_spread_v
        )
        if not at_cvl:
            state.mode, state.absorption_since = "bulk", None
        else:
            if state.absorption_since is None:
                state.absorption_since = now
            state.mode = "absorption"
            if now - state.absorption_since >= cfg.absorption_hold_s:
                state.mode, state.absorption_since = "float", None
                # ramp down from where CVL is now; after a reset, from the normal maximum
                state.float_cvl = min(cells * cfg.cell_voltage_max, limited)
                if state.soc_reset_active:
                    state.soc_reset_active, state.soc_reset_done = False, True
                    state.soc_reset_last = now

    mode_cvl = state.float_cvl if state.mode == "float" and state.float_cvl is not None else cvl_max
    cvl = min(mode_cvl, limited)
    rule = "cell_overvoltage" if limited < mode_cvl else state.mode
    if state.soc_reset_active:
        rule = SOC_RESET
    state.value = cvl
    return cvl, rule
