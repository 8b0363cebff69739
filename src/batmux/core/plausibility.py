"""Reject samples that cannot be physically true before they reach meters, groups or limits.

Two kinds of rule (listed with their margins in docs/banks-and-limits.md, *Plausibility*):

* one value alone: a 9 V cell, SoC 250 %, SoH above 100 %, a current no battery carries;
* values against each other: the pack voltage against the sum of its cells, remaining charge
  against full capacity, SoC against charge/capacity, current against capacity (C-rate).

The margins are wide on purpose: real BMSes disagree with themselves a little (a shunt measures
the pack voltage, a different ADC the cells; JBD's SoC is relative to the learned capacity), and a
rejected sample means no data. What they catch is the frame that decoded with the wrong layout or
a corrupt-but-checksummed byte: values off by factors, not by percents.
"""

from __future__ import annotations

import math
import weakref

from batmux.errors import ImplausibleSample
from batmux.model.sample import BatterySample

CELL_V_RANGE = (0.5, 5.0)
PACK_V_MAX = 1000.0
TEMP_RANGE_C = (-60.0, 150.0)
# pack voltage vs. Σ cells: a shunt and the cell ADC differ by some 0.1 V; a wrong layout or a
# missing cell by whole cell voltages.
CELL_SUM_TOLERANCE = (2.0, 0.10)  # (V, fraction of the sum): the larger one applies
# remaining charge may exceed the (nominal) full capacity a little after a BMS re-learned it
CHARGE_OVER_CAPACITY = (1.0, 0.10)  # (Ah, fraction of capacity)
# SoC vs. 100 · charge / capacity: 15 percentage points plus 0.5 Ah of rounding (a 1 Ah test
# pack with 0.1 Ah steps). BMV/SmartShunt apply Peukert and a charge efficiency to SoC but not
# to consumed Ah; JBD relates SoC to the learned capacity, not the nominal one.
SOC_MARGIN = (0.5, 15.0)  # (Ah, percentage points)
# current: 10 C (no LFP/NMC storage pack is rated for more), never below 100 A so that a
# small or unset capacity does not reject a real load; nothing above 5 kA at all (the largest
# shunts, Victron's Lynx/SmartShunt, measure up to 2 kA).
C_RATE_MAX = 10.0
CURRENT_FLOOR_A = 100.0
CURRENT_MAX_A = 5000.0
CAPACITY_MAX_AH = 50_000.0  # a 2.4 MWh 48 V bank; the wrong JK layout reads 16,384 Ah or more
SOH_MAX_PCT = 100.0


def max_current_a(capacity_ah: float | None) -> float:
    """The largest |current| a pack of this capacity can carry (``CURRENT_MAX_A`` if unknown)."""
    if capacity_ah is None or capacity_ah <= 0:
        return CURRENT_MAX_A
    return min(CURRENT_MAX_A, max(CURRENT_FLOOR_A, C_RATE_MAX * capacity_ah))


_CELL_LOW, _CELL_HIGH = CELL_V_RANGE
_T_LOW, _T_HIGH = TEMP_RANGE_C
_isfinite = math.isfinite
_SUM_ABS, _SUM_FRACTION = CELL_SUM_TOLERANCE
_OVER_ABS, _OVER_FRACTION = CHARGE_OVER_CAPACITY
_SOC_AH, _SOC_PP = SOC_MARGIN


# Samples found plausible, oldest first, by id. A sample is checked by its codec, again after
# calibration and again by the bank engine; samples are frozen, so the first verdict holds and
# the repeats cost a lookup. Weak values: a verdict goes with its sample (no id is reused
# while its entry stands, and no sample is kept alive for it: 512 held samples were ~0.45 MiB).
_PASSED: weakref.WeakValueDictionary[int, BatterySample] = weakref.WeakValueDictionary()
_PASSED_MAX = 512


def check_plausible(sample: BatterySample) -> None:
    """Raise ``ImplausibleSample`` naming the first impossible value and its likely cause."""
    if _PASSED.get(id(sample)) is sample:
        return
    _check(sample)
    remember_plausible(sample)


def remember_plausible(sample: BatterySample) -> None:
    """Record ``sample`` as checked: a copy of a plausible sample that differs only in what no
    rule reads (its timestamp)."""
    _PASSED[id(sample)] = sample
    if len(_PASSED) > _PASSED_MAX:
        _PASSED.pop(next(iter(_PASSED)), None)


def _check(sample: BatterySample) -> None:
    """The rules. This runs for every decoded frame, so each field is read once into a local
    and the common case (everything in range) takes no call beyond ``min``/``max``/``sum`` of
    the cells."""
    voltage, current, power = sample.voltage_v, sample.current_a, sample.power_w
    soc, charge, capacity = sample.soc_pct, sample.charge_ah, sample.capacity_ah
    # one sum instead of six checks: an inf or NaN anywhere makes it non-finite
    if not _isfinite(
        sum([v for v in (voltage, current, power, soc, charge, capacity) if v is not None])
    ):
        _name_non_finite(sample)
    if soc is not None and not 0 <= soc <= 100:
        raise ImplausibleSample(f"SoC {soc} % is outside 0..100")
    soh = sample.soh_pct
    if soh is not None and not 0 <= soh <= SOH_MAX_PCT:
        raise ImplausibleSample(f"SoH {soh:g} % is outside 0..100")
    if voltage is not None and not 0 <= voltage <= PACK_V_MAX:
        raise ImplausibleSample(f"pack voltage {voltage} V is impossible")
    if capacity is not None:
        if capacity < 0:
            raise ImplausibleSample(f"capacity {capacity} Ah is negative")
        if capacity > CAPACITY_MAX_AH:
            raise ImplausibleSample(
                f"capacity {capacity:g} Ah is beyond any bank: wrong layout or scale"
            )
    if charge is not None and charge < 0:
        raise ImplausibleSample(f"remaining charge {charge} Ah is negative")
    cells = sample.cell_voltages_v
    total = 0.0
    if cells:
        # min/max first; a NaN anywhere makes the sum NaN
        total = sum(cells)
        if not (min(cells) >= _CELL_LOW and max(cells) <= _CELL_HIGH and _isfinite(total)):
            for i, volts in enumerate(cells, 1):
                if not _CELL_LOW <= volts <= _CELL_HIGH:
                    raise ImplausibleSample(f"cell {i} at {volts} V is impossible")
    temps = sample.temperatures_c
    if temps and not (min(temps) >= _T_LOW and max(temps) <= _T_HIGH and _isfinite(sum(temps))):
        for temp in temps:
            if not _T_LOW <= temp <= _T_HIGH:
                raise ImplausibleSample(f"temperature {temp} °C is impossible")
    mos = sample.mos_temperature_c
    if mos is not None and not _T_LOW <= mos <= _T_HIGH:
        raise ImplausibleSample(f"temperature {mos} °C is impossible")
    # The checks below call out only when a value may be off (the helpers name the cause);
    # the bounds are the helpers' own, written out to spare a call per frame.
    if cells and voltage is not None:
        tolerance = _SUM_FRACTION * total
        if abs(voltage - total) > (tolerance if tolerance > _SUM_ABS else _SUM_ABS):
            _check_cell_sum(sample)
    if (
        charge is not None
        and capacity is not None
        and capacity > 0
        and (
            charge > capacity * (1 + _OVER_FRACTION) + _OVER_ABS
            or (
                soc is not None
                and abs(soc - 100 * charge / capacity) > _SOC_PP + 100 * _SOC_AH / capacity
            )
        )
    ):
        _check_charge(sample)
    if capacity is None or capacity <= 0:
        limit = CURRENT_MAX_A
    else:
        limit = C_RATE_MAX * capacity
        limit = CURRENT_FLOOR_A if limit < CURRENT_FLOOR_A else min(limit, CURRENT_MAX_A)
    if (current is not None and abs(current) > limit) or (
        power is not None and voltage and abs(power) > limit * voltage
    ):
        _check_current(sample)


def _name_non_finite(sample: BatterySample) -> None:
    for name in ("voltage_v", "current_a", "power_w", "soc_pct", "charge_ah", "capacity_ah"):
        value = getattr(sample, name)
        if value is not None and not math.isfinite(value):
            raise ImplausibleSample(f"{name} is not a finite number")


def _cell_sum_tolerance(total_v: float) -> float:
    absolute, fraction = CELL_SUM_TOLERANCE
    return max(absolute, fraction * total_v)


def _check_cell_sum(sample: BatterySample) -> None:
    """Pack voltage against the series sum of the cells it reports."""
    cells, pack = sample.cell_voltages_v, sample.voltage_v
    if pack is None or not cells:
        return
    n = len(cells)
    total = sum(cells)
    if abs(pack - total) <= _cell_sum_tolerance(total):
        return
    # a parallel group lists the cells of all its strings: k strings of n/k (≥ 4) cells each
    for strings in range(2, n // 4 + 1):
        if n % strings == 0 and abs(pack - total / strings) <= _cell_sum_tolerance(total / strings):
            return
    # a pack that reports only some of its cells (Daly and JBD say how many there are)
    declared = sample.extra.get("cell_count")
    if isinstance(declared, (int, float)) and not isinstance(declared, bool) and declared > n:
        whole = total / n * declared
        if abs(pack - whole) <= _cell_sum_tolerance(whole):
            return
    if pack < total:
        cause = (
            "looks like a frame decoded with the wrong layout (check `type:`)"
            if pack < 0.5 * total
            else "a corrupt value or the wrong layout"
        )
    else:
        cause = "cells missing from the report, or the wrong layout"
    raise ImplausibleSample(
        f"pack voltage {pack:g} V is far from the sum of its {n} cells ({total:.2f} V): {cause}"
    )


def _check_charge(sample: BatterySample) -> None:
    """Remaining charge against capacity, and SoC against both."""
    charge, capacity = sample.charge_ah, sample.capacity_ah
    if charge is None or capacity is None or capacity <= 0:
        return
    absolute, fraction = CHARGE_OVER_CAPACITY
    if charge > capacity * (1 + fraction) + absolute:
        raise ImplausibleSample(
            f"remaining charge {charge:g} Ah is above the full capacity {capacity:g} Ah: "
            "a corrupt value or the wrong layout"
        )
    if sample.soc_pct is None:
        return
    implied = 100 * charge / capacity
    rounding_ah, margin_pp = SOC_MARGIN
    if abs(sample.soc_pct - implied) > margin_pp + 100 * rounding_ah / capacity:
        raise ImplausibleSample(
            f"SoC {sample.soc_pct:g} % disagrees with {charge:g} Ah of {capacity:g} Ah "
            f"({implied:.0f} %): a corrupt value or the wrong layout"
        )


def _check_current(sample: BatterySample) -> None:
    """Current (and power) against what a pack of this capacity can carry."""
    limit = max_current_a(sample.capacity_ah)
    current = sample.current_a
    if current is not None and abs(current) > limit:
        raise ImplausibleSample(_current_reason(f"current {current:g} A", limit, sample))
    if sample.power_w is not None and sample.voltage_v:
        implied = abs(sample.power_w) / sample.voltage_v
        if implied > limit:
            raise ImplausibleSample(
                _current_reason(
                    f"power {sample.power_w:g} W at {sample.voltage_v:g} V ({implied:.0f} A)",
                    limit,
                    sample,
                )
            )


def _current_reason(what: str, limit: float, sample: BatterySample) -> str:
    if limit < CURRENT_MAX_A:
        return (
            f"{what} is more than a {sample.capacity_ah:g} Ah pack can carry "
            f"({limit:.0f} A): a corrupt value or the wrong scale"
        )
    return (
        f"{what} is beyond any battery ({CURRENT_MAX_A:.0f} A): a corrupt value or the wrong scale"
    )


def calibrate(sample: BatterySample, factor: float = 1.0, invert: bool = False) -> BatterySample:
    """Apply a battery's ``current_calibration`` and ``invert_current`` settings."""
    if sample.current_a is None or (factor == 1.0 and not invert):
        return sample
    current = sample.current_a * factor * (-1 if invert else 1)
    return sample.with_(current_a=round(current, 4))
