"""Merge the members of a bank into one virtual battery (parallel or series).

Only members with a fresh sample take part (a member whose own limits are stale is not fresh,
whatever its source); the others are counted offline. Below
``min_members`` (default: all) the group is unavailable. Cell and temperature extremes carry
"member:index" ids in ``extra`` (``min_cell_id: "a:3"``) so a user can find the cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from batmux.core.bank_config import GroupConfig
from batmux.core.freshness import is_fresh, last_good
from batmux.core.limits import STALE
from batmux.model.sample import BatterySample, ExtraValue
from batmux.model.state import BatteryState, MemberCounts, Meters

Members = list[tuple[str, BatterySample]]


def _known(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _mean(values: Iterable[float | None]) -> float | None:
    known = _known(values)
    return sum(known) / len(known) if known else None


def _total(values: Iterable[float | None]) -> float | None:
    """Sum, or None if any member does not know the value (a partial sum would mislead)."""
    values = list(values)
    return None if any(v is None for v in values) or not values else sum(_known(values))


def _all(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    if any(v is False for v in values):
        return False
    return True if values and all(v is True for v in values) else None


def _any(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    if any(v is True for v in values):
        return True
    return False if values and all(v is False for v in values) else None


def _weighted(pairs: list[tuple[float | None, float | None]]) -> float | None:
    """Capacity-weighted mean of (value, capacity); plain mean if a capacity is unknown."""
    if pairs and all(v is not None and c for v, c in pairs):
        total = sum(c for _, c in pairs if c)
        return sum(v * c for v, c in pairs if v is not None and c) / total
    return _mean(v for v, _ in pairs)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def extremes(members: Members) -> dict[str, ExtraValue]:
    """Min/max cell voltage and temperature over all members, with "member:index" ids."""
    out: dict[str, ExtraValue] = {}
    for kind, attr in (("cell", "cell_voltages_v"), ("temperature", "temperatures_c")):
        items = [
            (value, f"{name}:{i}")
            for name, sample in members
            for i, value in enumerate(getattr(sample, attr), start=1)
        ]
        if items:
            low, high = min(items), max(items)
            out[f"min_{kind}_id"], out[f"max_{kind}_id"] = low[1], high[1]
            if kind == "temperature":
                out["min_temperature"], out["max_temperature"] = low[0], high[0]
    return out


def _common(members: Members) -> dict[str, Any]:
    samples = [s for _, s in members]
    return {
        "timestamp": min(s.timestamp for s in samples),
        "temperatures_c": tuple(t for s in samples for t in s.temperatures_c),
        "mos_temperature_c": max(_known(s.mos_temperature_c for s in samples), default=None),
        "charge_enabled": _all(s.charge_enabled for s in samples),
        "discharge_enabled": _all(s.discharge_enabled for s in samples),
        "balancing": _any(s.balancing for s in samples),
        "alarms": frozenset().union(*(s.alarms for s in samples)),
        "warnings": frozenset().union(*(s.warnings for s in samples)),
    }


def merge_parallel(members: Members) -> BatterySample:
    samples = [s for _, s in members]
    caps = [s.capacity_ah for s in samples]
    extra = extremes(members)
    counts = {len(s.cell_voltages_v) for s in samples}
    if len(counts) == 1 and 0 not in counts:
        extra["cells_in_series"] = counts.pop()
    return BatterySample(
        voltage_v=_round(_mean(s.voltage_v for s in samples), 3),
        current_a=_round(_total(s.current_a for s in samples), 3),
        power_w=_round(_total(s.power_w for s in samples), 3),
        soc_pct=_round(_weighted([(s.soc_pct, c) for s, c in zip(samples, caps, strict=True)]), 2),
        charge_ah=_round(_total(s.charge_ah for s in samples), 3),
        capacity_ah=_round(_total(caps), 3),
        cycles=_round(_mean(s.cycles for s in samples), 2),
        soh_pct=_round(_weighted([(s.soh_pct, c) for s, c in zip(samples, caps, strict=True)]), 2),
        # concatenated so min/max/delta cell stay right for sinks; ids are in extra
        cell_voltages_v=tuple(v for s in samples for v in s.cell_voltages_v),
        extra=extra,
        **_common(members),
    )


def merge_series(members: Members, disagreement_a: float) -> tuple[BatterySample, list[str]]:
    samples = [s for _, s in members]
    currents = _known(s.current_a for s in samples)
    warnings: list[str] = []
    extra = extremes(members)
    if currents and max(currents) - min(currents) > disagreement_a:
        spread = round(max(currents) - min(currents), 3)
        extra["current_disagreement_a"] = spread
        warnings.append(f"member currents disagree by {spread} A (> {disagreement_a} A)")
    sample = BatterySample(
        voltage_v=_round(_total(s.voltage_v for s in samples), 3),
        current_a=_round(_mean(currents), 3),
        soc_pct=min(_known(s.soc_pct for s in samples), default=None),
        charge_ah=min(_known(s.charge_ah for s in samples), default=None),
        capacity_ah=min(_known(s.capacity_ah for s in samples), default=None),
        cycles=max(_known(s.cycles for s in samples), default=None),
        soh_pct=min(_known(s.soh_pct for s in samples), default=None),
        cell_voltages_v=tuple(v for s in samples for v in s.cell_voltages_v),
        extra=extra,
        **_common(members),
    )
    return sample, warnings


def blocks(state: BatteryState, *, charge: bool) -> bool:
    """A member blocks charge (discharge) when its switch is off or its own limit is 0."""
    limits, sample = state.limits, state.sample
    switch = None
    if sample is not None:
        switch = sample.charge_enabled if charge else sample.discharge_enabled
    if limits is not None and (limits.blocks_charge if charge else limits.blocks_discharge):
        return True
    return switch is False


def _usable(state: BatteryState | None, now: float, stale_after: float) -> bool:
    """Fresh for the group, and not stale by the member's own rule (its own stale_after)."""
    limits = state.limits if state is not None else None
    return is_fresh(state, now, stale_after) and (limits is None or limits.reason != STALE)


def merge_group(
    cfg: GroupConfig,
    states: Mapping[str, BatteryState],
    now: float,
    stale_after: float = 10.0,
) -> BatteryState:
    """The group's state (without limits) from its members' states (limits already filled)."""
    online = [n for n in cfg.members if _usable(states.get(n), now, stale_after)]
    offline = [n for n in cfg.members if n not in online]
    members: Members = [(n, s) for n in online if (s := states[n].sample) is not None]
    blocking_charge = sum(blocks(states[n], charge=True) for n in online)
    blocking_discharge = sum(blocks(states[n], charge=False) for n in online)
    diagnostics: dict[str, Any] = {"offline_members": offline, "online_members": online}
    sample: BatterySample | None = None
    if members:
        if cfg.mode == "parallel":
            sample = merge_parallel(members)
        else:
            sample, warnings = merge_series(members, cfg.current_disagreement_a)
            if warnings:
                diagnostics["warnings"] = warnings
    counts = MemberCounts(len(online), len(offline), blocking_charge, blocking_discharge)
    # Meters only ever grow, so offline members still count (a total must not drop).
    known = [states[n].meters for n in cfg.members if n in states]
    meters = Meters(
        charged_kwh=sum(m.charged_kwh for m in known),
        discharged_kwh=sum(m.discharged_kwh for m in known),
        cycles=_mean(m.cycles for m in known) or 0.0,
    )
    return BatteryState(
        name=cfg.name,
        available=bool(members) and len(online) >= cfg.required_members,
        sample=sample,
        meters=meters,
        members=counts,
        is_group=True,
        last_good_at=min((last_good(states[n]) for n in online), default=0.0),
        diagnostics=diagnostics,
    )
