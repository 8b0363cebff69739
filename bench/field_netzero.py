"""The field's zero-export loop and inverter command cycle, re-implemented for the benchmark.

homebattery (danielringch/homebattery 1.2.0) src/backend/modules/netzero.py and the AhoyDTU
adapter, as restated in shared/protocols/netzero.md §8.1/§8.2:

* readings of the last `evaluated_time_span` s; the window is cleared when the measured
  inverter power changes or the inverter is not ON (syncing counts as not ON);
* after each reading: second-smallest value `ss`; < 2 points → 0; ss < target − hysteresis →
  max(−change_downwards, ss − target); < 5 points or oldest younger than maturity → 0;
  ss > target + hysteresis → min(change_upwards, ss − target); else 0;
* new power = measured power + delta, split over the inverters in proportion to max power.

Both loops of the benchmark drive the same device side, `sim.netzero_inverter.ModelInverter`
(the field's 1 s TX cycle, 2 s reads and 30 s confirmation wait).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from batmux.netzero.ports import DeviceStatus
from batmux.sim.netzero_inverter import ModelInverter


@dataclass
class FieldLoop:
    inverters: list[ModelInverter]
    target_w: float = 10.0  # power_offset
    hysteresis_w: float = 20.0  # power_hysteresis
    change_up_w: float = 200.0  # power_change_upwards (documented range 100-200)
    change_down_w: float = 50.0  # power_change_downwards (documented range 25-50)
    span_s: float = 30.0  # evaluated_time_span
    maturity_s: float = 15.0  # maturity_time_span
    signed: bool = True
    capped_down: bool = True  # False: the older release's uncapped reduction (ss − target)
    _data: deque[tuple[float, float]] = field(default_factory=deque)
    _last_power: float | None = None

    def measured_w(self) -> float:
        return sum(i.state().power_w or 0.0 for i in self.inverters)

    def on_reading(self, now: float, consumption: float) -> None:
        on = all(i.state().status == DeviceStatus.ON for i in self.inverters)
        power = self.measured_w()
        if not on or power != self._last_power:
            self._data.clear()
        self._last_power = power
        self._data.append((now, consumption))
        while self._data and self._data[0][0] + self.span_s <= now:
            self._data.popleft()
        delta = self.evaluate(now)
        if delta != 0 and on:
            self.distribute(power + delta)

    def evaluate(self, now: float) -> float:
        values = sorted(c for _, c in self._data)
        if len(values) < 2:
            return 0.0
        ss = values[1]
        oldest_age = now - self._data[0][0]
        if not self.signed and ss == 0:
            return -self.change_down_w
        if ss < self.target_w - self.hysteresis_w:
            if self.capped_down:
                return max(-self.change_down_w, ss - self.target_w)
            return ss - self.target_w
        if len(values) < 5 or oldest_age < self.maturity_s:
            return 0.0
        if ss > self.target_w + self.hysteresis_w:
            return min(self.change_up_w, ss - self.target_w)
        return 0.0

    def distribute(self, total: float) -> None:
        capacity = sum(i.max_power_w for i in self.inverters)
        total = max(0.0, min(total, capacity))
        left = total
        for k, inv in enumerate(self.inverters):
            share = left if k == len(self.inverters) - 1 else total * inv.max_power_w / capacity
            inv.request(share)
            left -= share
