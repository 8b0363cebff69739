"""A Hoymiles micro-inverter as the DTU sees it: limits apply late, readings are a bit off.

Shared by the AhoyDTU/OpenDTU REST simulators and the zero-export benchmark. Time comes from
the caller (`now` arguments), so a simulated day can run in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class HoymilesModel:
    max_power_w: float = 600.0
    limit_delay_s: float = 8.0  # a new limit takes effect this long after it was sent
    reading_error: float = 0.04  # reported power differs from AC power by up to ±4 %
    min_output_w: float = 0.03 * 600  # the lowest output the inverter really produces
    seed: int = 1
    producing: bool = True
    reachable: bool = True
    limit_percent: float = 100.0  # the applied (confirmed) limit
    _pending: tuple[float, float] | None = None  # (apply_at, percent)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._bias = 1.0 + self._rng.uniform(-self.reading_error, self.reading_error)

    def set_limit_percent(self, percent: float, now: float) -> None:
        self._pending = (now + self.limit_delay_s, max(0.0, min(100.0, percent)))

    def set_power(self, on: bool) -> None:
        self.producing = on

    def restart(self) -> None:
        self._pending = None  # a power change does not survive a reset (homebattery's note)
        self.limit_percent = 100.0
        self.producing = True

    def tick(self, now: float) -> None:
        if self._pending is not None and now >= self._pending[0]:
            self.limit_percent = self._pending[1]
            self._pending = None

    def ac_power_w(self, now: float, available_w: float | None = None) -> float:
        """Real AC output (what the house meter sees)."""
        self.tick(now)
        if not (self.producing and self.reachable):
            return 0.0
        watts = self.max_power_w * self.limit_percent / 100.0
        if available_w is not None:
            watts = min(watts, available_w)
        return max(watts, self.min_output_w) if watts > 0 else 0.0

    def reported_power_w(self, now: float, available_w: float | None = None) -> float:
        """What the inverter reports: off by a fixed per-unit factor (why LUTs exist)."""
        return round(self.ac_power_w(now, available_w) * self._bias, 1)
