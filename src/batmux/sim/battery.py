"""A small physical LFP battery model that every simulator encodes through its real codec.

Open-circuit voltage from an LFP curve, terminal voltage = OCV + I·R, charge integrated from
current on a caller-supplied clock (so tests can drive time), small fixed per-cell offsets so
cells are not identical, and a temperature that follows I²R heating.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batmux.model.sample import BatterySample

# (SoC %, cell OCV V) for LiFePO4, typical at 25 °C.
LFP_OCV: tuple[tuple[float, float], ...] = (
    (0.0, 2.50),
    (2.0, 2.90),
    (5.0, 3.10),
    (10.0, 3.20),
    (20.0, 3.25),
    (30.0, 3.28),
    (40.0, 3.30),
    (60.0, 3.32),
    (70.0, 3.33),
    (90.0, 3.34),
    (95.0, 3.36),
    (99.0, 3.40),
    (100.0, 3.55),
)

_OCV_SOC = tuple(p[0] for p in LFP_OCV)


def lfp_ocv(soc_pct: float) -> float:
    """Cell open-circuit voltage at a SoC, linear between curve points."""
    soc = min(max(soc_pct, 0.0), 100.0)
    i = bisect.bisect_right(_OCV_SOC, soc)
    if i >= len(LFP_OCV):
        return LFP_OCV[-1][1]
    (x0, y0), (x1, y1) = LFP_OCV[i - 1], LFP_OCV[i]
    return y0 + (y1 - y0) * (soc - x0) / (x1 - x0)


LoadProfile = Callable[[float], float]
"""Current in A (positive = charging) as a function of seconds since the simulation started."""


@dataclass
class SimBattery:
    """State of one simulated pack; ``advance()`` moves it to the clock's time."""

    cells: int = 16
    capacity_ah: float = 100.0
    soc_pct: float = 60.0
    current_a: float | LoadProfile = 0.0
    internal_resistance_ohm: float = 0.0005  # per cell
    ambient_c: float = 22.0
    cycles: int = 3
    seed: int = 1
    clock: Callable[[], float] = time.time
    charge_enabled: bool = True
    discharge_enabled: bool = True
    balancing: bool = False
    _start: float = field(init=False)
    _last: float = field(init=False)
    _offsets: list[float] = field(init=False)
    temperature_c: float = field(init=False)

    def __post_init__(self) -> None:
        self._start = self._last = self.clock()
        rng = random.Random(self.seed)
        self._offsets = [rng.uniform(-0.004, 0.004) for _ in range(self.cells)]
        self.temperature_c = self.ambient_c

    def current_now(self, now: float) -> float:
        if callable(self.current_a):
            return float(self.current_a(now - self._start))
        return float(self.current_a)

    def advance(self) -> None:
        now = self.clock()
        dt = max(0.0, now - self._last)
        self._last = now
        current = self.effective_current(now)
        self.soc_pct = min(100.0, max(0.0, self.soc_pct + current * dt / 36.0 / self.capacity_ah))
        # First-order thermal model: I²R heating against cooling to ambient.
        heating = current * current * self.internal_resistance_ohm * self.cells * 0.02
        self.temperature_c += (self.ambient_c + heating - self.temperature_c) * min(1.0, dt / 600)

    def effective_current(self, now: float) -> float:
        """The load current, stopped by an open MOSFET or a full/empty pack."""
        current = self.current_now(now)
        if current > 0 and (not self.charge_enabled or self.soc_pct >= 100.0):
            return 0.0
        if current < 0 and (not self.discharge_enabled or self.soc_pct <= 0.0):
            return 0.0
        return current

    def cell_voltages(self) -> list[float]:
        current = self.effective_current(self._last)
        base = lfp_ocv(self.soc_pct) + current * self.internal_resistance_ohm
        return [round(base + off, 3) for off in self._offsets]

    def truth(self) -> BatterySample:
        """What the device would report now (after ``advance``)."""
        self.advance()
        cells = self.cell_voltages()
        current = round(self.effective_current(self._last), 3)
        voltage = round(sum(cells), 3)
        return BatterySample(
            timestamp=self._last,
            voltage_v=voltage,
            current_a=current,
            soc_pct=round(self.soc_pct),
            charge_ah=round(self.capacity_ah * self.soc_pct / 100.0, 3),
            capacity_ah=self.capacity_ah,
            cycles=self.cycles,
            cell_voltages_v=tuple(cells),
            temperatures_c=(round(self.temperature_c, 1), round(self.temperature_c + 0.4, 1)),
            mos_temperature_c=round(self.temperature_c + 3.0, 1),
            charge_enabled=self.charge_enabled,
            discharge_enabled=self.discharge_enabled,
            balancing=self.balancing,
            soh_pct=100,
        )


def sine_load(amplitude_a: float, period_s: float = 600.0, offset_a: float = 0.0) -> LoadProfile:
    """A slow charge/discharge swing, handy for demos."""
    return lambda t: offset_a + amplitude_a * math.sin(2 * math.pi * t / period_s)


def from_sim_config(
    sim: Any | None, clock: Callable[[], float] = time.time, **defaults: Any
) -> SimBattery:
    """The battery a config's ``sim:`` section describes; ``defaults`` when there is none."""
    if sim is None:
        return SimBattery(clock=clock, **defaults)
    current: float | LoadProfile = sim.current
    if sim.load is not None:
        load = sim.load
        current = (
            sine_load(load.amplitude, load.period, load.offset)
            if load.kind == "sine"
            else load.offset
        )
    return SimBattery(
        cells=sim.cells,
        capacity_ah=sim.capacity_ah,
        soc_pct=sim.soc,
        current_a=current,
        seed=sim.seed,
        clock=clock,
    )
