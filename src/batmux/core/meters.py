"""Energy meters and cycle counting from the sample stream.

Energy is the trapezoidal integral of power over time, split into charged (power > 0) and
discharged (power < 0) kWh; a sign change inside an interval is split at the zero crossing so
neither counter absorbs the other's energy. Both counters only increase. Cycles come from the
SoC trace: Σ|ΔSoC| / 200 (a full cycle is 100 % down and 100 % up). Gaps longer than
``max_gap_s`` are not integrated: nothing is known about what happened during an outage.

A step that no real pack can make is refused (counted in ``refused`` with its reason, the energy
left out): more energy between two samples than their |V·I| allows, or than the pack's largest
current (``plausibility.max_current_a``) at its voltage. One corrupt power value must never add
kilowatt-hours to counters that only ever increase.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batmux.core.plausibility import PACK_V_MAX, max_current_a
from batmux.model.sample import BatterySample
from batmux.model.state import Meters

# Slack on |V·I| for BMSes that report power on their own (rounded to whole watts, or measured
# a few milliseconds apart from the current).
POWER_SLACK = (10.0, 0.10)  # (W, fraction of |V·I|)


@dataclass
class MeterState:
    charged_wh: float = 0.0
    discharged_wh: float = 0.0
    soc_travel_pct: float = 0.0
    last_t: float | None = None
    last_p: float | None = None
    last_soc: float | None = None
    last_bound_w: float | None = None  # the largest power the last sample allows
    refused: Counter[str] = field(default_factory=Counter)  # reason → refused steps

    def to_json(self) -> dict[str, Any]:
        return {
            "charged_wh": self.charged_wh,
            "discharged_wh": self.discharged_wh,
            "soc_travel_pct": self.soc_travel_pct,
        }

    @classmethod
    def from_json(cls, data: Any) -> MeterState:
        if not isinstance(data, dict):
            return cls()
        try:
            return cls(
                charged_wh=max(0.0, float(data.get("charged_wh", 0.0))),
                discharged_wh=max(0.0, float(data.get("discharged_wh", 0.0))),
                soc_travel_pct=max(0.0, float(data.get("soc_travel_pct", 0.0))),
            )
        except (TypeError, ValueError):
            return cls()

    def meters(self) -> Meters:
        return Meters(
            charged_kwh=self.charged_wh / 1000,
            discharged_kwh=self.discharged_wh / 1000,
            cycles=self.soc_travel_pct / 200,
        )


def split_ramp(p0: float, p1: float, dt_s: float) -> tuple[float, float]:
    """(charged Wh, discharged Wh) of a linear power ramp from p0 to p1 over dt.

    Unit-agnostic: a current ramp in A gives (charged Ah, drawn Ah) (``core.history``).
    """
    hours = dt_s / 3600
    if p0 >= 0 and p1 >= 0:
        return (p0 + p1) / 2 * hours, 0.0
    if p0 <= 0 and p1 <= 0:
        return 0.0, -(p0 + p1) / 2 * hours
    crossing = p0 / (p0 - p1)  # fraction of the interval before the zero crossing
    first = p0 / 2 * hours * crossing
    second = p1 / 2 * hours * (1 - crossing)
    pos, neg = (first, second) if p0 > 0 else (second, first)
    return pos, -neg


def power_bound_w(sample: BatterySample) -> float:
    """The largest |power| this sample can stand for: its |V·I| (with slack), and never more
    than the pack's largest current at its voltage."""
    volts = sample.voltage_v if sample.voltage_v is not None else PACK_V_MAX
    bound = abs(volts) * max_current_a(sample.capacity_ah)
    if sample.voltage_v is not None and sample.current_a is not None:
        absolute, fraction = POWER_SLACK
        bound = min(bound, abs(sample.voltage_v * sample.current_a) * (1 + fraction) + absolute)
    return bound


def update(state: MeterState, sample: BatterySample, max_gap_s: float = 60.0) -> str | None:
    """Fold one good sample into the meters (in place: this runs for every sample).

    Returns why the step to this sample was refused, or None when it was counted (or there
    was nothing to count)."""
    t, p, soc = sample.timestamp, sample.power_w, sample.soc_pct
    refusal = None
    if p is not None:
        bound = power_bound_w(sample)
        if state.last_t is not None and state.last_p is not None:
            dt = t - state.last_t
            if 0 < dt <= max_gap_s:
                charged, discharged = split_ramp(state.last_p, p, dt)
                allowed = max(bound, state.last_bound_w or bound) * dt / 3600
                if charged + discharged <= allowed * 1.000001:
                    state.charged_wh += charged
                    state.discharged_wh += discharged
                else:
                    refusal = _refuse(state, charged + discharged, allowed, dt)
        if state.last_t is None or t > state.last_t:
            # adopted even after a refusal: the next step starts afresh from this sample
            state.last_t, state.last_p, state.last_bound_w = t, p, bound
    if soc is not None:
        if state.last_soc is not None:
            state.soc_travel_pct += abs(soc - state.last_soc)
        state.last_soc = soc
    return refusal


def _refuse(state: MeterState, wh: float, allowed_wh: float, dt: float) -> str:
    state.refused["energy step beyond |V·I|·dt"] += 1
    return (
        f"meter step of {wh:.1f} Wh in {dt:g} s refused: |V·I| allows {allowed_wh:.2f} Wh "
        "(a corrupt power or current value)"
    )
