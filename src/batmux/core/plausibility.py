"""Reject physically impossible samples before they reach a group, a counter or a limit.

A decoder can produce well-formed nonsense (a SoC of 250 %, a 9 V LFP cell, a negative
capacity) from a firmware bug or a misread layout. Such a sample is dropped whole, and the
reason is counted so health output says *why* a battery went quiet.
"""

from __future__ import annotations

import math
from collections import Counter

from batmux.errors import ImplausibleSample
from batmux.model.sample import BatterySample

CELL_MIN_V = 0.5  # below this a "cell" is a disconnected sense wire or a decode error
CELL_MAX_V = 5.0  # no lithium chemistry in use goes above ~4.35 V
TEMP_RANGE_C = (-60.0, 150.0)


def plausibility_problem(sample: BatterySample) -> str | None:
    """The first reason ``sample`` is impossible, or None when it is plausible."""
    for name in (
        "voltage_v",
        "current_a",
        "power_w",
        "soc_pct",
        "charge_ah",
        "capacity_ah",
        "cycles",
        "mos_temperature_c",
        "soh_pct",
    ):
        value = getattr(sample, name)
        if value is not None and not math.isfinite(value):
            return f"{name} is not a number"
    if any(not math.isfinite(v) for v in (*sample.cell_voltages_v, *sample.temperatures_c)):
        return "cell voltage or temperature is not a number"
    if sample.voltage_v is not None and sample.voltage_v < 0:
        return "negative pack voltage"
    if sample.soc_pct is not None and not 0 <= sample.soc_pct <= 100:
        return "soc outside 0..100 %"
    if sample.soh_pct is not None and not 0 <= sample.soh_pct <= 100:
        return "soh outside 0..100 %"
    if sample.capacity_ah is not None and sample.capacity_ah < 0:
        return "negative capacity"
    if sample.charge_ah is not None and sample.charge_ah < 0:
        return "negative remaining charge"
    if sample.cycles is not None and sample.cycles < 0:
        return "negative cycle count"
    if any(not CELL_MIN_V <= v <= CELL_MAX_V for v in sample.cell_voltages_v):
        return f"cell voltage outside {CELL_MIN_V}..{CELL_MAX_V} V"
    low, high = TEMP_RANGE_C
    temps = [*sample.temperatures_c]
    if sample.mos_temperature_c is not None:
        temps.append(sample.mos_temperature_c)
    if any(not low <= v <= high for v in temps):
        return f"temperature outside {low:g}..{high:g} °C"
    return None


def check_plausible(sample: BatterySample) -> None:
    """Raise ImplausibleSample (message = the reason) if ``sample`` cannot be true."""
    problem = plausibility_problem(sample)
    if problem is not None:
        raise ImplausibleSample(problem)


class PlausibilityCounter:
    """Counts rejected samples by reason, for health output."""

    def __init__(self) -> None:
        self.rejected: Counter[str] = Counter()

    def accept(self, sample: BatterySample) -> bool:
        problem = plausibility_problem(sample)
        if problem is None:
            return True
        self.rejected[problem] += 1
        return False
