"""Averaging of the samples taken during one publish period (batmon-ha semantics).

Numbers are averaged; per-cell and per-sensor lists element-wise when their lengths agree
(otherwise the newest list wins); states (switches, alarms, balancing) and counters (cycles)
come from the newest sample, because an average of "on" and "off" means nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from batmux.model.sample import BatterySample

_MEAN_FIELDS = (
    "voltage_v",
    "current_a",
    "power_w",
    "soc_pct",
    "charge_ah",
    "mos_temperature_c",
)


def _fmean(values: Sequence[float]) -> float:
    # statistics.fmean's arithmetic; the statistics module (with decimal and fractions) costs
    # ~0.8 MiB of RSS in the gateway for this one function (issue 17)
    return math.fsum(values) / len(values)


def _mean(values: list[float]) -> float:
    return round(_fmean(values), 4)


def _mean_tuple(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    width = len(rows[-1])
    same = [r for r in rows if len(r) == width]
    return tuple(round(_fmean(col), 4) for col in zip(*same, strict=True))


def average(samples: Sequence[BatterySample]) -> BatterySample:
    """One sample standing for all of ``samples`` (oldest first); needs at least one."""
    newest = samples[-1]
    if len(samples) == 1:
        return newest
    changes: dict[str, object] = {}
    for name in _MEAN_FIELDS:
        values = [v for s in samples if (v := getattr(s, name)) is not None]
        if values:
            changes[name] = _mean(values)
    for name in ("cell_voltages_v", "temperatures_c"):
        rows = [getattr(s, name) for s in samples if getattr(s, name)]
        if rows:
            changes[name] = _mean_tuple(rows)
    return newest.with_(**changes)
