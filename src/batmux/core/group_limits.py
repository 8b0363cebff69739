"""A group's CVL / CCL / DCL from its members' limits.

Parallel: current splits between packs roughly in proportion to capacity, so the bank may take
the largest current at which no online member exceeds its own limit:
min over members of limit_i × Σcapacity / capacity_i (equal packs: N × the smallest limit).
CVL is the lowest member CVL. Series: the same current flows through every member, so
CCL/DCL = the smallest member limit and CVL = the sum of member CVLs; a series string with a
member missing is unusable. Any member blocking charge (discharge) blocks the whole group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from batmux.core.alarm_limits import is_alarm_rule
from batmux.core.bank_config import GroupConfig, LimitsConfig
from batmux.core.groups import blocks
from batmux.core.limits import LimitResult, compose_reason, stale_result
from batmux.core.ramp import HoldRamp
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState


@dataclass(slots=True)
class GroupLimitState:
    ccl: HoldRamp = field(default_factory=HoldRamp)
    dcl: HoldRamp = field(default_factory=HoldRamp)
    cvl: float | None = None


def _current(
    cfg: GroupConfig,
    online: list[str],
    states: Mapping[str, BatteryState],
    results: Mapping[str, LimitResult],
    *,
    charge: bool,
) -> tuple[float, str]:
    for name in online:
        if blocks(states[name], charge=charge):
            member_rule = results[name].charge_rule if charge else results[name].discharge_rule
            # an alarm is named too, so the bank's reason says why without a second look
            suffix = f":{member_rule}" if is_alarm_rule(member_rule) else ""
            return 0.0, f"blocked_by_{name}{suffix}"

    def limit(name: str) -> float:
        limits = results[name].limits
        return limits.charge_current_a if charge else limits.discharge_current_a

    def rule(name: str) -> str:
        result = results[name]
        return f"{name}:{result.charge_rule if charge else result.discharge_rule}"

    if cfg.mode == "series":
        name = min(online, key=limit)
        return limit(name), rule(name)
    caps = {n: states[n].sample.capacity_ah if states[n].sample else None for n in online}
    if all(caps.values()):
        total = sum(c for c in caps.values() if c)
        scaled = {n: limit(n) * total / c for n, c in caps.items() if c}
    else:  # unknown capacity: assume equal packs
        scaled = {n: limit(n) * len(online) for n in online}
    name = min(scaled, key=lambda n: scaled[n])
    return scaled[name], rule(name)


def group_limits(
    cfg: GroupConfig,
    limits_cfg: LimitsConfig,
    state: GroupLimitState,
    group: BatteryState,
    states: Mapping[str, BatteryState],
    results: Mapping[str, LimitResult],
    now: float,
) -> LimitResult:
    """Limits of ``group`` (from ``merge_group``); ``results`` holds each member's LimitResult."""
    online = [n for n in group.diagnostics.get("online_members", []) if n in results]
    series_broken = cfg.mode == "series" and len(online) < len(cfg.members)
    if not group.available or not online or series_broken:
        return stale_result(state.cvl or 0.0, None, state.ccl, state.dcl)
    cvls = {n: results[n].limits.charge_voltage_v for n in online}
    dvls = [results[n].limits.discharge_voltage_v for n in online]
    if cfg.mode == "parallel":
        low = min(cvls, key=lambda n: cvls[n])
        cvl, voltage_rule = cvls[low], f"{low}:{results[low].voltage_rule}"
        dvl = max((v for v in dvls if v is not None), default=None)
    else:
        cvl, voltage_rule = sum(cvls.values()), "sum"
        dvl = sum(v for v in dvls if v is not None) if all(v is not None for v in dvls) else None
    ccl, charge_rule = _current(cfg, online, states, results, charge=True)
    dcl, discharge_rule = _current(cfg, online, states, results, charge=False)
    if limits_cfg.max_charge_current is not None and limits_cfg.max_charge_current < ccl:
        ccl, charge_rule = limits_cfg.max_charge_current, "configured"
    if limits_cfg.max_discharge_current is not None and limits_cfg.max_discharge_current < dcl:
        dcl, discharge_rule = limits_cfg.max_discharge_current, "configured"
    ccl_out = state.ccl.step(ccl, now, limits_cfg.hold_s, limits_cfg.ramp_a_per_s)
    dcl_out = state.dcl.step(dcl, now, limits_cfg.hold_s, limits_cfg.ramp_a_per_s)
    if ccl_out < ccl:
        charge_rule = "recovering"
    if dcl_out < dcl:
        discharge_rule = "recovering"
    state.cvl = cvl
    reason = compose_reason(charge_rule, discharge_rule, voltage_rule)
    limits = ChargeLimits(round(cvl, 3), round(ccl_out, 2), round(dcl_out, 2), dvl, reason)
    return LimitResult(limits, charge_rule, discharge_rule, voltage_rule)
