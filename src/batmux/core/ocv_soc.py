"""SoC for a shunt that is no BMS: the Ah counter, corrected from the resting voltage.

A shunt (Junctek KH-F/KG-F, a BMV) only counts amp-hours; its SoC drifts with every
calibration error and is only reset when it sees "full". The field's fallback (documented in
docs/ev-packs.md, "Junctek"): once the pack has **rested** (|I| at most ``rest_current_a``
for ``rest_s``), its voltage is close to the open-circuit voltage, and the OCV curve gives a
SoC. If the counter's SoC differs from it by more than ``max_drift_pct`` **plus** what the
curve cannot tell apart (the SoC span of ±``voltage_tolerance_v`` per cell around the reading:
wide on LFP's flat plateau, narrow on its knees), the counter is taken to have drifted and
an offset moves it onto the OCV SoC. The offset stays (charge and discharge move the
corrected SoC as the counter moves) until the next rest says otherwise.

Pure: no clock is read here, ``now`` is passed in; the rest detector is injected.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

SocSource = Literal["counter", "ocv"]

# Resting cell voltage → SoC for LiFePO4 at about 20 °C, after an hour or more of rest
# (typical of published LFP OCV curves; charge/discharge hysteresis is ~20 mV, which the
# default voltage tolerance covers).
LFP_REST_CURVE: tuple[tuple[float, float], ...] = (
    (2.50, 0.0),
    (2.90, 1.0),
    (3.05, 3.0),
    (3.15, 6.0),
    (3.20, 10.0),
    (3.23, 15.0),
    (3.25, 20.0),
    (3.27, 30.0),
    (3.29, 40.0),
    (3.30, 50.0),
    (3.31, 60.0),
    (3.32, 70.0),
    (3.33, 80.0),
    (3.34, 90.0),
    (3.35, 95.0),
    (3.40, 98.0),
    (3.45, 99.0),
    (3.60, 100.0),
)


@dataclass(frozen=True, slots=True)
class OcvCurve:
    """(cell volts, SoC %) points, both rising; linear in between, clamped at the ends."""

    points: tuple[tuple[float, float], ...] = LFP_REST_CURVE

    def __post_init__(self) -> None:
        volts = [v for v, _ in self.points]
        socs = [s for _, s in self.points]
        if len(self.points) < 2 or volts != sorted(set(volts)) or socs != sorted(socs):
            raise ValueError("an OCV curve needs 2+ points with rising voltage and SoC")

    def soc(self, cell_v: float) -> float:
        volts = [v for v, _ in self.points]
        if cell_v <= volts[0]:
            return self.points[0][1]
        if cell_v >= volts[-1]:
            return self.points[-1][1]
        i = bisect.bisect_right(volts, cell_v)
        (v0, s0), (v1, s1) = self.points[i - 1], self.points[i]
        return s0 + (s1 - s0) * (cell_v - v0) / (v1 - v0)

    def ambiguity(self, cell_v: float, tolerance_v: float) -> float:
        """Half the SoC span of ±``tolerance_v`` around ``cell_v``: what the voltage cannot
        tell apart (about ±10 % on the LFP plateau, ±1 % on the knees at 20 mV)."""
        return (self.soc(cell_v + tolerance_v) - self.soc(cell_v - tolerance_v)) / 2


@dataclass(frozen=True, slots=True)
class SocFallbackRule:
    cells: int
    curve: OcvCurve = field(default_factory=OcvCurve)
    max_drift_pct: float = 10.0
    rest_current_a: float = 1.0
    rest_s: float = 1800.0
    voltage_tolerance_v: float = 0.02  # per cell


class RestDetector:
    """How long |current| has stayed at most ``rest_current_a`` (a gap resets nothing: only
    a current above the threshold does)."""

    def __init__(self, rest_current_a: float) -> None:
        self.rest_current_a = rest_current_a
        self._since: float | None = None

    def update(self, now: float, current_a: float | None) -> float:
        if current_a is None or abs(current_a) > self.rest_current_a:
            self._since = None
            return 0.0
        if self._since is None:
            self._since = now
        return now - self._since


@dataclass(frozen=True, slots=True)
class SocDecision:
    soc_pct: float | None
    source: SocSource
    counter_soc_pct: float | None
    ocv_soc_pct: float | None = None  # set while rested
    offset_pct: float = 0.0


def _clamp(soc: float) -> float:
    return round(min(100.0, max(0.0, soc)), 2)


class SocFallback:
    """The rule above with its state (the offset, the rest timer)."""

    def __init__(self, rule: SocFallbackRule, rest: RestDetector | None = None) -> None:
        self.rule = rule
        self.rest = rest or RestDetector(rule.rest_current_a)
        self.offset_pct = 0.0
        self.corrections = 0

    def update(
        self,
        now: float,
        voltage_v: float | None,
        current_a: float | None,
        counter_soc_pct: float | None,
    ) -> SocDecision:
        rule = self.rule
        rested = self.rest.update(now, current_a) >= rule.rest_s
        soc = None if counter_soc_pct is None else counter_soc_pct + self.offset_pct
        source: SocSource = "counter" if not self.offset_pct else "ocv"
        ocv = None
        if rested and voltage_v is not None and rule.cells > 0:
            cell_v = voltage_v / rule.cells
            ocv = round(rule.curve.soc(cell_v), 2)
            allowed = rule.max_drift_pct + rule.curve.ambiguity(cell_v, rule.voltage_tolerance_v)
            if soc is None:
                soc, source = ocv, "ocv"
            elif abs(soc - ocv) > allowed:
                if counter_soc_pct is not None:
                    self.offset_pct = ocv - counter_soc_pct
                self.corrections += 1
                soc, source = ocv, "ocv"
        return SocDecision(
            soc_pct=None if soc is None else _clamp(soc),
            source=source,
            counter_soc_pct=counter_soc_pct,
            ocv_soc_pct=ocv,
            offset_pct=round(self.offset_pct, 2),
        )
