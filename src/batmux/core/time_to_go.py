"""Time to go: what Victron's ``/TimeToGo`` means, for a battery or a bank.

Seconds until the battery reaches its floor at the present discharge current: the charge above
the floor (the ESS minimum SoC when known, else empty) divided by the discharge current.
Unknown (None) while charging or at rest (a discharge of at most ``MIN_DISCHARGE_A``, as a BMV
shows "---"), or when the remaining charge or the current is unknown. At or below the floor
while still discharging it is 0. A device that sends its own time to go (a BMV's ``TTG``, an
MQTT JSON ``TimeToGo``) is believed instead, as Victron's own drivers pass it through. Every sink
publishes this one value (state JSON ``time_to_go``, D-Bus ``/TimeToGo``).
"""

from __future__ import annotations

from collections.abc import Iterable

from batmux.model.sample import BatterySample

MIN_DISCHARGE_A = 0.1
DEVICE_TTG_KEY = "time_to_go_s"  # a device's own time to go, in extra (vedirect, mqtt_json)
ESS_MIN_SOC_KEY = "ess_min_soc"  # extra of the Victron input device (devices/venus_input.py)


def time_to_go_s(sample: BatterySample | None, floor_soc_pct: float | None = None) -> int | None:
    """Seconds to the floor at the present discharge current, or None (see module doc)."""
    own = _device_time_to_go(sample)
    if own is not None:
        return own
    if sample is None or sample.current_a is None or sample.current_a >= -MIN_DISCHARGE_A:
        return None
    remaining, capacity, soc = sample.charge_ah, sample.capacity_ah, sample.soc_pct
    if remaining is None and capacity is not None and soc is not None:
        remaining = capacity * soc / 100
    if remaining is None:
        return None
    if floor_soc_pct:
        if capacity is None and soc:  # a pack that reports only Ah and SoC
            capacity = remaining * 100 / soc
        if capacity is None:
            return None  # the floor in Ah is unknown: "to empty" would overstate it
        remaining -= capacity * floor_soc_pct / 100
    return round(max(remaining, 0.0) / -sample.current_a * 3600)


def _device_time_to_go(sample: BatterySample | None) -> int | None:
    """The device's own figure (a BMV's TTG, an MQTT JSON ``TimeToGo``), when it sends one."""
    value = sample.extra.get(DEVICE_TTG_KEY) if sample is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e9:
        return round(value)
    return None


def ess_floor_soc(samples: Iterable[BatterySample | None]) -> float | None:
    """The ESS minimum SoC the Victron input device read from Venus settings, if any does."""
    for sample in samples:
        value = sample.extra.get(ESS_MIN_SOC_KEY) if sample is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 100:
            return float(value)
    return None
