"""An own coulomb counter: integrate current, clamp to the capacity, resync at full and empty.

BMS SoC estimates drift (JK current sensing is coarse); integrating a better current (a shunt)
and resetting at the two physically recognisable points — full (high voltage with a small tail
current, held) and empty (low cell voltage, held) — gives a SoC that stays honest.
Charge current is multiplied by the charge efficiency; discharge current counts fully.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from batmux.core.bank_config import CoulombConfig
from batmux.model.sample import BatterySample

DEFAULT_TAIL_FRACTION = 0.04  # of capacity per hour, like a shunt's "tail current" default


@dataclass(slots=True)
class CoulombState:
    charge_ah: float | None = None
    capacity_ah: float | None = None
    last_t: float | None = None
    full_since: float | None = None
    empty_since: float | None = None
    syncs_full: int = 0
    syncs_empty: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> CoulombState:
        if not isinstance(data, dict):
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        numbers = all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            for v in known.values()
        )
        return cls(**known) if numbers else cls()  # a hand-edited file must not crash us

    @property
    def soc_pct(self) -> float | None:
        if self.charge_ah is None or not self.capacity_ah:
            return None
        return 100.0 * self.charge_ah / self.capacity_ah


def _held(since: float | None, condition: bool, now: float) -> float | None:
    if not condition:
        return None
    return now if since is None else since


def update_coulomb(
    cfg: CoulombConfig,
    state: CoulombState,
    sample: BatterySample,
    current_a: float | None,
    now: float,
) -> CoulombState:
    """Advance ``state`` (in place, also returned) by one sample; ``current_a`` + = charging."""
    capacity = cfg.capacity_ah or sample.capacity_ah or state.capacity_ah
    if not capacity:
        return state  # nothing to count against yet
    state.capacity_ah = capacity
    if state.charge_ah is None:
        if sample.soc_pct is None:
            return state
        state.charge_ah = capacity * sample.soc_pct / 100.0  # start from the BMS estimate
        state.last_t = now
        return state
    if current_a is not None and state.last_t is not None:
        dt = now - state.last_t
        if 0 < dt <= cfg.max_gap_s:
            factor = cfg.charge_efficiency if current_a > 0 else 1.0
            state.charge_ah += current_a * factor * dt / 3600.0
    state.last_t = now  # an interval without a current is skipped, not guessed
    state.charge_ah = min(max(state.charge_ah, 0.0), capacity)
    _resync(cfg, state, sample, current_a, capacity, now)
    return state


def _resync(
    cfg: CoulombConfig,
    state: CoulombState,
    sample: BatterySample,
    current_a: float | None,
    capacity: float,
    now: float,
) -> None:
    tail = cfg.tail_current_a
    if tail is None:
        tail = DEFAULT_TAIL_FRACTION * capacity
    high = _reached(sample.max_cell_v, cfg.full_cell_voltage, above=True) or _reached(
        sample.voltage_v, cfg.full_pack_voltage, above=True
    )
    full = high and current_a is not None and current_a <= tail
    state.full_since = _held(state.full_since, full, now)
    if state.full_since is not None and now - state.full_since >= cfg.full_hold_s:
        if state.charge_ah != capacity:
            state.syncs_full += 1
        state.charge_ah = capacity
    low = _reached(sample.min_cell_v, cfg.empty_cell_voltage, above=False) or _reached(
        sample.voltage_v, cfg.empty_pack_voltage, above=False
    )
    state.empty_since = _held(state.empty_since, low, now)
    if state.empty_since is not None and now - state.empty_since >= cfg.empty_hold_s:
        if state.charge_ah != 0.0:
            state.syncs_empty += 1
        state.charge_ah = 0.0


def _reached(value: float | None, level: float | None, *, above: bool) -> bool:
    if value is None or level is None:
        return False
    return value >= level if above else value <= level


def apply_coulomb(sample: BatterySample, state: CoulombState) -> BatterySample:
    """``sample`` with SoC and remaining charge from the counter (BMS SoC kept as ``bms_soc``)."""
    soc = state.soc_pct
    if soc is None or state.charge_ah is None:
        return sample
    extra = dict(sample.extra)
    if sample.soc_pct is not None:
        extra["bms_soc"] = sample.soc_pct
    return sample.with_(
        soc_pct=round(soc, 3),
        charge_ah=round(state.charge_ah, 4),
        capacity_ah=state.capacity_ah,
        extra=extra,
    )
