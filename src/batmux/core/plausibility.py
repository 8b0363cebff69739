"""Reject samples that cannot be physically true before they reach meters, groups or limits."""

from __future__ import annotations

import math

from batmux.errors import ImplausibleSample
from batmux.model.sample import BatterySample

CELL_V_RANGE = (0.5, 5.0)
PACK_V_MAX = 1000.0
TEMP_RANGE_C = (-60.0, 150.0)


def check_plausible(sample: BatterySample) -> None:
    """Raise ``ImplausibleSample`` naming the first impossible value."""
    for name in ("voltage_v", "current_a", "power_w", "soc_pct", "charge_ah", "capacity_ah"):
        value = getattr(sample, name)
        if value is not None and not math.isfinite(value):
            raise ImplausibleSample(f"{name} is not a finite number")
    if sample.soc_pct is not None and not 0 <= sample.soc_pct <= 100:
        raise ImplausibleSample(f"SoC {sample.soc_pct} % is outside 0..100")
    if sample.voltage_v is not None and not 0 <= sample.voltage_v <= PACK_V_MAX:
        raise ImplausibleSample(f"pack voltage {sample.voltage_v} V is impossible")
    if sample.capacity_ah is not None and sample.capacity_ah < 0:
        raise ImplausibleSample(f"capacity {sample.capacity_ah} Ah is negative")
    if sample.charge_ah is not None and sample.charge_ah < 0:
        raise ImplausibleSample(f"remaining charge {sample.charge_ah} Ah is negative")
    low, high = CELL_V_RANGE
    for i, volts in enumerate(sample.cell_voltages_v, 1):
        if not low <= volts <= high:
            raise ImplausibleSample(f"cell {i} at {volts} V is impossible")
    t_low, t_high = TEMP_RANGE_C
    for temp in (*sample.temperatures_c, sample.mos_temperature_c):
        if temp is not None and not t_low <= temp <= t_high:
            raise ImplausibleSample(f"temperature {temp} °C is impossible")


def calibrate(sample: BatterySample, factor: float = 1.0, invert: bool = False) -> BatterySample:
    """Apply a battery's ``current_calibration`` and ``invert_current`` settings."""
    if sample.current_a is None or (factor == 1.0 and not invert):
        return sample
    current = sample.current_a * factor * (-1 if invert else 1)
    return sample.with_(current_a=round(current, 4))
