"""Battery history like a BMV's H-values: extremes, discharge depths, Ah drawn, event counters.

Fed with every published ``BatteryState``; only available states with a sample count. Every
step is idempotent for a sample published twice (extremes, edges; the Ah integral needs time to
pass between samples), so republishing the same state changes nothing. Values are kept in
natural units and positive (Ah drawn, depths); sinks apply their own sign conventions. Time comes
from an injected wall clock because "time since the last full charge" must survive a restart.

Events use hysteresis so a value that hovers at a threshold counts once:
* full charge (a BMV "synchronisation"): SoC ≥ ``FULL_SOC_PCT``; re-armed below ``FULL_REARM_PCT``.
  It closes a discharge cycle: LastDischarge restarts and the cycle's depth joins the average.
* full discharge: SoC ≤ ``EMPTY_SOC_PCT``; re-armed above ``EMPTY_REARM_PCT``.
* low/high-voltage alarm: the rising edge of a pack *or* cell under/over-voltage alarm (not a
  warning): on a BMS the cell limit is the one that trips.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from batmux.core.meters import split_ramp
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

FULL_SOC_PCT = 99.5
FULL_REARM_PCT = 95.0
EMPTY_SOC_PCT = 0.5
EMPTY_REARM_PCT = 10.0
MAX_GAP_S = 60.0  # longer gaps are not integrated: nothing is known about the outage

LOW_ALARMS = frozenset({Alarm.PACK_UNDERVOLTAGE, Alarm.CELL_UNDERVOLTAGE})
HIGH_ALARMS = frozenset({Alarm.PACK_OVERVOLTAGE, Alarm.CELL_OVERVOLTAGE})


@dataclass
class HistoryRecord:
    """The history (None = never seen); the state file holds exactly these fields."""

    min_voltage_v: float | None = None
    max_voltage_v: float | None = None
    min_cell_v: float | None = None
    max_cell_v: float | None = None
    min_temp_c: float | None = None
    max_temp_c: float | None = None
    deepest_discharge_ah: float | None = None  # largest consumed Ah ever seen (≥ 0)
    last_discharge_ah: float | None = None  # largest consumed Ah since the last full charge
    closed_cycles: int = 0  # discharges a full charge has closed
    closed_depth_ah: float = 0.0  # Σ depth of those
    total_drawn_ah: float = 0.0  # ∫ discharge current dt (≥ 0)
    full_discharges: int = 0
    full_charges: int = 0  # BMV "automatic synchronisations"
    low_voltage_alarms: int = 0
    high_voltage_alarms: int = 0
    last_full_at: float | None = None  # wall clock
    # Edge state, stored so an alarm still active across a restart is not counted twice.
    full_armed: bool = True
    empty_armed: bool = True
    low_alarm: bool = False
    high_alarm: bool = False

    @property
    def average_discharge_ah(self) -> float | None:
        """Mean depth of the discharges a full charge closed."""
        return self.closed_depth_ah / self.closed_cycles if self.closed_cycles else None


_FLOATS = {f.name for f in fields(HistoryRecord) if "float" in str(f.type)}
_INTS = {f.name for f in fields(HistoryRecord) if str(f.type) == "int"}
_BOOLS = {f.name for f in fields(HistoryRecord) if str(f.type) == "bool"}


def _lower(old: float | None, new: float | None) -> float | None:
    return old if new is None else new if old is None else min(old, new)


def _higher(old: float | None, new: float | None) -> float | None:
    return old if new is None else new if old is None else max(old, new)


class HistoryTracker:
    """Folds published states into ``record``; ``to_json``/``from_json`` for the state file."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.record = HistoryRecord()
        self._last_t: float | None = None  # the previous sample's timestamp and current
        self._last_i: float | None = None

    def update(self, state: BatteryState) -> None:
        sample = state.sample
        if not state.available or sample is None:
            return
        s = self.record
        s.min_voltage_v = _lower(s.min_voltage_v, sample.voltage_v)
        s.max_voltage_v = _higher(s.max_voltage_v, sample.voltage_v)
        s.min_cell_v = _lower(s.min_cell_v, sample.min_cell_v)
        s.max_cell_v = _higher(s.max_cell_v, sample.max_cell_v)
        s.min_temp_c = _lower(s.min_temp_c, sample.min_temperature_c)
        s.max_temp_c = _higher(s.max_temp_c, sample.max_temperature_c)
        self._integrate(sample)
        self._depth(sample)
        self._soc_events(sample.soc_pct)
        low = bool(LOW_ALARMS & sample.alarms)
        high = bool(HIGH_ALARMS & sample.alarms)
        s.low_voltage_alarms += int(low and not s.low_alarm)
        s.high_voltage_alarms += int(high and not s.high_alarm)
        s.low_alarm, s.high_alarm = low, high

    def _integrate(self, sample: BatterySample) -> None:
        t, i = sample.timestamp, sample.current_a
        if i is None:
            return
        if self._last_t is not None and self._last_i is not None:
            dt = t - self._last_t
            if 0 < dt <= MAX_GAP_S:
                _charged, drawn = split_ramp(self._last_i, i, dt)
                self.record.total_drawn_ah += drawn
        self._last_t, self._last_i = t, i

    def _depth(self, sample: BatterySample) -> None:
        remaining, installed = sample.charge_ah, sample.capacity_ah
        if remaining is None or installed is None:
            return
        consumed = max(installed - remaining, 0.0)
        s = self.record
        s.deepest_discharge_ah = _higher(s.deepest_discharge_ah, consumed)
        s.last_discharge_ah = _higher(s.last_discharge_ah, consumed)

    def _soc_events(self, soc: float | None) -> None:
        if soc is None:
            return
        s = self.record
        if soc >= FULL_SOC_PCT:
            s.last_full_at = self._clock()  # stays "0 s ago" while the battery is full
            if s.full_armed:
                s.full_armed = False
                s.full_charges += 1
                if s.last_discharge_ah is not None and s.last_discharge_ah > 0:
                    s.closed_cycles += 1
                    s.closed_depth_ah += s.last_discharge_ah
                s.last_discharge_ah = 0.0
        elif soc < FULL_REARM_PCT:
            s.full_armed = True
        if soc <= EMPTY_SOC_PCT and s.empty_armed:
            s.empty_armed = False
            s.full_discharges += 1
        elif soc > EMPTY_REARM_PCT:
            s.empty_armed = True

    def since_full_charge_s(self) -> int | None:
        """Whole seconds since the battery was last full (0 while it is); None if never."""
        if self.record.last_full_at is None:
            return None
        return max(0, round(self._clock() - self.record.last_full_at))

    # -- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self.record)

    @classmethod
    def from_json(cls, data: Any, clock: Callable[[], float] = time.time) -> HistoryTracker:
        """A tracker from a stored dict; unknown keys and bad values are ignored, not fatal."""
        tracker = cls(clock)
        if not isinstance(data, dict):
            return tracker
        for key, value in data.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key in _BOOLS and isinstance(value, bool):
                setattr(tracker.record, key, value)
            elif key in _INTS and number and isinstance(value, int):
                setattr(tracker.record, key, max(0, value))
            elif key in _FLOATS and number and math.isfinite(value):
                setattr(tracker.record, key, float(value))
        return tracker
