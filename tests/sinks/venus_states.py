"""States the Venus tests share: a two-pack parallel bank, and the same bank with a high cell."""

from __future__ import annotations

import dataclasses

from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, MemberCounts, Meters

CELLS = (3.301, 3.305, 3.298, 3.310, 3.302, 3.304, 3.299, 3.303) * 2  # 2 × 8S, concatenated


def bank_state(timestamp: float = 1_700_000_000.0) -> BatteryState:
    sample = BatterySample(
        timestamp=timestamp,
        voltage_v=26.42,
        current_a=-12.5,
        soc_pct=64.0,
        charge_ah=128.0,
        capacity_ah=200.0,
        cycles=42.0,
        cell_voltages_v=CELLS,
        temperatures_c=(21.0, 23.0, 22.0, 22.0),
        mos_temperature_c=30.5,
        charge_enabled=True,
        discharge_enabled=True,
        balancing=False,
        soh_pct=98.0,
        warnings=frozenset({Alarm.CELL_IMBALANCE}),
        extra={"cell_min_id": "b:3", "cell_max_id": "a:4", "cells_per_battery": 8},
    )
    return BatteryState(
        name="bank",
        available=True,
        sample=sample,
        meters=Meters(charged_kwh=123.4567, discharged_kwh=120.1234, cycles=40.0),
        limits=ChargeLimits(28.4, 100.0, 150.0, discharge_voltage_v=24.0, reason="ok"),
        members=MemberCounts(online=2, offline=0, blocking_charge=0, blocking_discharge=0),
        is_group=True,
        last_good_at=timestamp,
    )


def high_cell_state() -> BatteryState:
    """Cell 4 of pack a at 3.60 V: the bank's CVL drops and charging is blocked."""
    base = bank_state()
    assert base.sample is not None
    cells = list(CELLS)
    cells[3] = 3.600
    sample = base.sample.with_(
        cell_voltages_v=tuple(cells), alarms=frozenset({Alarm.CELL_OVERVOLTAGE})
    )
    return dataclasses.replace(
        base,
        sample=sample,
        limits=ChargeLimits(27.8, 0.0, 150.0, discharge_voltage_v=24.0, reason="cell_high"),
        members=MemberCounts(online=2, offline=0, blocking_charge=1, blocking_discharge=0),
    )


def stale(state: BatteryState) -> BatteryState:
    limits = ChargeLimits(28.4, 0.0, 0.0, reason="stale")
    return dataclasses.replace(state, available=False, limits=limits)
