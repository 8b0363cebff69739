"""Energy meters and cycle counting from the sample stream.

Energy is the trapezoidal integral of power over time, split into charged (power > 0) and
discharged (power < 0) kWh; a sign change inside an interval is split at the zero crossing so
neither counter absorbs the other's energy. Both counters only increase. Cycles come from the
SoC trace: Σ|ΔSoC| / 200 (a full cycle is 100 % down and 100 % up). Gaps longer than
``max_gap_s`` are not integrated: nothing is known about what happened during an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batmux.model.sample import BatterySample
from batmux.model.state import Meters


@dataclass
class MeterState:
    charged_wh: float = 0.0
    discharged_wh: float = 0.0
    soc_travel_pct: float = 0.0
    last_t: float | None = None
    last_p: float | None = None
    last_soc: float | None = None

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


def update(state: MeterState, sample: BatterySample, max_gap_s: float = 60.0) -> None:
    """Fold one good sample into the meters (in place: this runs for every sample)."""
    t, p, soc = sample.timestamp, sample.power_w, sample.soc_pct
    if p is not None:
        if state.last_t is not None and state.last_p is not None:
            dt = t - state.last_t
            if 0 < dt <= max_gap_s:
                charged, discharged = split_ramp(state.last_p, p, dt)
                state.charged_wh += charged
                state.discharged_wh += discharged
        if state.last_t is None or t > state.last_t:
            state.last_t, state.last_p = t, p
    if soc is not None:
        if state.last_soc is not None:
            state.soc_travel_pct += abs(soc - state.last_soc)
        state.last_soc = soc
