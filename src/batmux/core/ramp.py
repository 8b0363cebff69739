"""Anti-flapping for a limit: decreases apply at once, increases wait a hold time, then ramp.

Equipment that follows a limit (an inverter's charger) should not see it jump up and down every
second; but a lower limit is a safety matter and must never be delayed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HoldRamp:
    value: float | None = None
    rising_since: float | None = None  # when the target first went above value
    last_t: float | None = None

    def step(self, target: float, now: float, hold_s: float, rate_per_s: float) -> float:
        last, self.last_t = self.last_t, now
        if self.value is None or target <= self.value:
            self.value = target
            self.rising_since = None
            return target
        if self.rising_since is None:
            self.rising_since = now
        ramp_from = self.rising_since + hold_s
        if now < ramp_from:
            return self.value
        start = ramp_from if last is None else max(last, ramp_from)
        self.value = min(target, self.value + rate_per_s * max(0.0, now - start))
        if self.value >= target:
            self.rising_since = None
        return self.value

    def force(self, value: float) -> None:
        """Set the value outright (a safety cut: stale data, blocked)."""
        self.value = value
        self.rising_since = None
