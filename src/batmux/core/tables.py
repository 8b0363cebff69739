"""Interpolation tables: breakpoints → fraction of the configured maximum current.

Linear between breakpoints, clamped to the first/last value outside them. Breakpoints may be
written ascending or descending (the LFP cell-voltage tables read naturally descending), but
they must be strictly monotonic: a table that doubles back is a config error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Table:
    x: tuple[float, ...]
    y: tuple[float, ...]
    # (x, y) sorted by x once, not on every lookup (tables run per battery per publish)
    _pairs: tuple[tuple[float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = table_problem(self.x, self.y)
        if problem:
            raise ValueError(problem)
        object.__setattr__(self, "_pairs", tuple(sorted(zip(self.x, self.y, strict=True))))

    def __call__(self, value: float) -> float:
        return _lookup(self._pairs, value)


@lru_cache(maxsize=256)
def cached_table(x: tuple[float, ...], y: tuple[float, ...]) -> Table:
    """One ``Table`` per distinct (x, y): config tables are read on every publish."""
    return Table(x, y)


def table_problem(x: Sequence[float], y: Sequence[float]) -> str | None:
    """Why (x, y) is not a usable table, or None."""
    if len(x) != len(y):
        return f"x has {len(x)} breakpoints but y has {len(y)} values"
    if not x:
        return "a table needs at least one breakpoint"
    steps = [b - a for a, b in pairwise(x)]
    if not (all(s > 0 for s in steps) or all(s < 0 for s in steps)):
        return "breakpoints (x) must be strictly increasing or strictly decreasing"
    if any(v < 0 for v in y):
        return "values (y) must not be negative"
    return None


def interpolate(x: Sequence[float], y: Sequence[float], value: float) -> float:
    return _lookup(tuple(sorted(zip(x, y, strict=True))), value)


def _lookup(pairs: tuple[tuple[float, float], ...], value: float) -> float:
    if value <= pairs[0][0]:
        return pairs[0][1]
    if value >= pairs[-1][0]:
        return pairs[-1][1]
    for (x0, y0), (x1, y1) in pairwise(pairs):
        if x0 <= value <= x1:
            return y0 + (y1 - y0) * (value - x0) / (x1 - x0)
    return pairs[-1][1]  # unreachable: value lies inside the table


# Default LFP tables (fractions of the configured maximum current), as in the issue.
CHARGE_CELL_VOLTAGE = Table((3.375, 3.40, 3.425, 3.45, 3.50), (1.0, 0.25, 0.05, 0.005, 0.0))
DISCHARGE_CELL_VOLTAGE = Table((3.19, 3.10, 3.00, 2.90, 2.80), (1.0, 0.25, 0.05, 0.005, 0.0))
CHARGE_TEMPERATURE = Table(
    (0, 2, 5, 10, 40, 45, 50, 55), (0.0, 0.25, 0.5, 1.0, 1.0, 0.5, 0.25, 0.0)
)
DISCHARGE_TEMPERATURE = Table(
    (-10, 0, 5, 10, 40, 45, 50, 55), (0.0, 0.25, 0.5, 1.0, 1.0, 0.5, 0.25, 0.0)
)
MOS_TEMPERATURE = Table((70, 80, 90), (1.0, 0.25, 0.0))
CHARGE_SOC = Table((98, 95, 90, 85), (0.1, 0.2, 0.5, 1.0))
DISCHARGE_SOC = Table((5, 10, 15, 20), (0.1, 0.2, 0.5, 1.0))
