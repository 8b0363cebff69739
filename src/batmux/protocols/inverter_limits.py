"""The limits an emulated battery tells an inverter, made safe before any builder sees them.

Rules shared by every inverter protocol (BYD CAN, Pylontech CAN):

* stale or unavailable battery, no limits, or limits with reason ``stale`` → 0 A charge and
  0 A discharge (reason ``stale`` / ``no_limits``); before the first trustworthy state the
  reason is ``not_ready`` instead (builders show "not ready", not a fault, then);
* the charge voltage limit is never 0 (Victron reads CVL 0 as over-voltage): the last good one
  is kept, else the configured safe value;
* negative currents are clamped to 0.

``LimitKeeper`` holds the only state (the last good CVL/DVL) so builders stay pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState

STALE = "stale"
NO_LIMITS = "no_limits"
NOT_READY = "not_ready"  # no trustworthy state yet since start: 0 A, but no fault flags
INVERTER_SILENT = "inverter_silent"  # ``on_inverter_silent: stop`` and the inverter is silent
FAULT_REASONS = frozenset({STALE, NO_LIMITS})  # 0 A and the protocol's fault/error state
UNSAFE_REASONS = FAULT_REASONS | {NOT_READY}  # 0 A and "not ready/stop" wherever it exists


def state_age_s(state: BatteryState, now: float) -> float | None:
    """Seconds since the newest good sample, or None when the state carries no time."""
    stamp = state.last_good_at or (state.sample.timestamp if state.sample else 0.0)
    return now - stamp if stamp else None


def stale_reason(state: BatteryState | None, now: float | None, stale_after_s: float | None) -> str:
    """Why the inverter must get 0 A (``""`` when the state can be trusted)."""
    if state is None or not state.available or state.sample is None:
        return STALE
    if state.limits is None:
        return NO_LIMITS
    if state.limits.reason == STALE:
        return STALE
    if now is not None and stale_after_s is not None:
        age = state_age_s(state, now)
        if age is not None and age > stale_after_s:
            return STALE
    return ""


@dataclass
class LimitKeeper:
    """Turns the hub's state into safe limits, remembering the last good voltage window."""

    safe_charge_voltage_v: float | None = None  # used before the first good CVL
    safe_discharge_voltage_v: float | None = None
    stale_after_s: float | None = None
    last_cvl_v: float | None = None
    last_dvl_v: float | None = None
    ready: bool = False  # latched on the first trustworthy state

    def limits(self, state: BatteryState | None, now: float | None = None) -> ChargeLimits | None:
        """Safe limits, or None while no trustworthy charge voltage is known at all."""
        reason = stale_reason(state, now, self.stale_after_s)
        given = state.limits if state is not None else None
        if not reason:
            self.ready = True
        elif not self.ready:
            reason = NOT_READY
        if not reason and given is not None:
            if given.charge_voltage_v > 0:
                self.last_cvl_v = given.charge_voltage_v
            if given.discharge_voltage_v:
                self.last_dvl_v = given.discharge_voltage_v
        cvl = self.last_cvl_v or self.safe_charge_voltage_v
        if not cvl and given is not None and given.charge_voltage_v > 0:
            cvl = given.charge_voltage_v
        if not cvl:
            return None
        dvl = self.last_dvl_v or self.safe_discharge_voltage_v
        if reason or given is None:
            return ChargeLimits(cvl, 0.0, 0.0, dvl, reason=reason or NO_LIMITS)
        return ChargeLimits(
            cvl,
            max(0.0, given.charge_current_a),
            max(0.0, given.discharge_current_a),
            given.discharge_voltage_v or dvl,
            reason=given.reason,
        )
