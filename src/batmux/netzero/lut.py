"""Power LUT: which relative limit gives how many watts at the AC socket (homebattery's format).

One ``percent;watts`` pair per line, measured with a socket meter because a Hoymiles inverter's
own reading is off by a few percent. ``#`` starts a comment; blank lines are skipped. The table's
smallest and largest watts are the inverter's usable range: leaving the lowest (or highest)
entries out sets its minimum (or maximum) power.

    # hm600.lut
    3;20
    10;61
    50;302
    100;600
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from batmux.errors import ConfigError


class LutError(ConfigError):
    """A LUT file that cannot be used; ``str()`` names file and line."""


@dataclass(frozen=True, slots=True)
class PowerLut:
    percents: tuple[float, ...]  # ascending with watts
    watts: tuple[float, ...]  # ascending

    @property
    def min_power_w(self) -> float:
        return self.watts[0]

    @property
    def max_power_w(self) -> float:
        return self.watts[-1]

    def get_percent(self, watts: float) -> float:
        """The limit for ``watts``: clamp to the table, then the largest entry with watts ≤ P."""
        clamped = min(max(watts, self.min_power_w), self.max_power_w)
        return self.percents[bisect_right(self.watts, clamped) - 1]

    def get_watts(self, percent: float) -> float:
        """The AC watts a limit gives (linear between entries; used to report ``limit_w``)."""
        if percent <= self.percents[0]:
            return self.watts[0]
        if percent >= self.percents[-1]:
            return self.watts[-1]
        at = bisect_right(self.percents, percent)
        p0, p1 = self.percents[at - 1], self.percents[at]
        w0, w1 = self.watts[at - 1], self.watts[at]
        return w0 if p1 == p0 else w0 + (w1 - w0) * (percent - p0) / (p1 - p0)


def parse_lut(text: str, source: str = "<lut>") -> PowerLut:
    """Parse ``percent;watts`` lines; any bad line is a ``LutError`` naming ``source:line``."""
    rows: list[tuple[float, float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 2:
            raise LutError(where, "", f"expected 'percent;watts', got {raw.strip()!r}")
        try:
            percent, watts = float(parts[0]), float(parts[1])
        except ValueError:
            raise LutError(where, "", f"not numbers: {raw.strip()!r}") from None
        if not (0.0 <= percent <= 100.0) or not (0.0 <= watts < 1e6):
            raise LutError(where, "", f"percent must be 0..100 and watts ≥ 0: {raw.strip()!r}")
        if rows and (percent <= rows[-1][0] or watts < rows[-1][1]):
            raise LutError(where, "", "percent must rise and watts must not fall line by line")
        rows.append((percent, watts))
    if not rows:
        raise LutError(source, "", "no 'percent;watts' lines")
    return PowerLut(tuple(p for p, _ in rows), tuple(w for _, w in rows))


def load_lut(path: Path) -> PowerLut:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LutError(str(path), "", f"cannot read the power LUT: {exc}") from None
    return parse_lut(text, str(path))
