"""The BMV-style history tracker, fed with real states step by step."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from batmux.core.history import HistoryRecord, HistoryTracker
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def state(t: float, available: bool = True, **sample: Any) -> BatteryState:
    return BatteryState("pack", available, BatterySample(timestamp=T0 + t, **sample))


def feed(steps: list[BatteryState], clock: Clock | None = None) -> HistoryTracker:
    tracker = HistoryTracker(clock or Clock())
    for s in steps:
        if clock is not None and s.sample is not None:
            clock.now = s.sample.timestamp
        tracker.update(s)
    return tracker


def soc_steps(*socs: float) -> list[BatteryState]:
    """100 Ah pack: remaining charge follows the SoC, one state a second."""
    return [state(i, soc_pct=s, charge_ah=s, capacity_ah=100.0) for i, s in enumerate(socs)]


CELLS_A = (3.30, 3.31, 3.29, 3.30)
CELLS_B = (3.45, 3.40, 3.41, 3.42)

# (case, states, expected record fields)
CASES: list[tuple[str, list[BatteryState], dict[str, Any]]] = [
    (
        "extremes over three states; unknowns leave them alone",
        [
            state(0, voltage_v=13.2, cell_voltages_v=CELLS_A, temperatures_c=(18.0, 21.5)),
            state(1, voltage_v=13.68, cell_voltages_v=CELLS_B, temperatures_c=(24.0, 25.5)),
            state(2, voltage_v=12.9, temperatures_c=(-3.5,)),
            state(3),
        ],
        {
            "min_voltage_v": 12.9,
            "max_voltage_v": 13.68,
            "min_cell_v": 3.29,
            "max_cell_v": 3.45,
            "min_temp_c": -3.5,
            "max_temp_c": 25.5,
        },
    ),
    (
        "unavailable states count for nothing",
        [state(0, voltage_v=13.2), state(1, available=False, voltage_v=9.0, soc_pct=0.0)],
        {"min_voltage_v": 13.2, "max_voltage_v": 13.2, "full_discharges": 0},
    ),
    (
        "Ah drawn: 10 A for 36 s is 0.1 Ah; charging adds nothing; a 61 s gap is skipped",
        [
            state(0, current_a=-10.0),
            state(36, current_a=-10.0),  # +0.1 Ah
            state(72, current_a=20.0),  # -10 → +20 over 36 s: crosses zero at 12 s → +1/60 Ah
            state(108, current_a=20.0),  # charging
            state(169, current_a=-50.0),  # 61 s gap: not integrated
            state(205, current_a=-50.0),  # +0.5 Ah
            state(205, current_a=-50.0),  # the same sample again: no time, nothing drawn
        ],
        {"total_drawn_ah": pytest.approx(0.1 + 1 / 60 + 0.5)},
    ),
    (
        "depths: deepest ever, last since the full charge, mean of the closed ones",
        soc_steps(80, 70, 100, 100, 90, 60, 65, 100, 85),
        {
            "deepest_discharge_ah": 40.0,
            "last_discharge_ah": 15.0,
            "closed_cycles": 2,
            "closed_depth_ah": 70.0,  # 30 + 40
            "full_charges": 2,
        },
    ),
    (
        "full charge needs SoC below 95 % before it counts again",
        soc_steps(99.6, 99.4, 99.7, 96.0, 100.0, 94.0, 99.5),
        {"full_charges": 2},
    ),
    (
        "full discharge counts once until the SoC is back above 10 %",
        soc_steps(3.0, 0.3, 0.0, 5.0, 0.2, 25.0, 0.5, 0.0),
        {"full_discharges": 2},
    ),
    (
        "voltage alarms count rising edges; pack or cell; warnings do not count",
        [
            state(0, alarms=frozenset({Alarm.CELL_UNDERVOLTAGE})),
            state(1, alarms=frozenset({Alarm.CELL_UNDERVOLTAGE, Alarm.PACK_UNDERVOLTAGE})),
            state(2),
            state(3, alarms=frozenset({Alarm.PACK_UNDERVOLTAGE})),
            state(4, warnings=frozenset({Alarm.PACK_UNDERVOLTAGE, Alarm.CELL_OVERVOLTAGE})),
            state(5, alarms=frozenset({Alarm.CELL_OVERVOLTAGE})),
            state(6, alarms=frozenset({Alarm.PACK_OVERVOLTAGE, Alarm.CELL_IMBALANCE})),
        ],
        {"low_voltage_alarms": 2, "high_voltage_alarms": 1, "low_alarm": False},
    ),
]


@pytest.mark.parametrize(("steps", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_history_steps(steps: list[BatteryState], expected: dict[str, Any]) -> None:
    record = asdict(feed(steps).record)
    assert {k: record[k] for k in expected} == expected


def test_average_discharge() -> None:
    tracker = feed(soc_steps(80, 70, 100, 60, 100))
    assert tracker.record.average_discharge_ah == 35.0  # (30 + 40) / 2
    assert HistoryRecord().average_discharge_ah is None


@pytest.mark.parametrize(
    ("socs", "now_after_s", "expected"),
    [
        ((50.0, 60.0), 0, None),  # never full
        ((90.0, 99.8, 99.9), 0, 0),  # full right now
        ((99.8, 97.0, 80.0), 300, 302),  # full at t=0; the last state at t=2, then 300 s
        ((100.0, 100.0, 96.0), 3600, 3601),  # last full at t=1
    ],
)
def test_time_since_full_charge(
    socs: tuple[float, ...], now_after_s: float, expected: int | None
) -> None:
    clock = Clock()
    tracker = feed(soc_steps(*socs), clock)
    clock.now += now_after_s
    assert tracker.since_full_charge_s() == expected


def test_round_trip_keeps_every_field() -> None:
    clock = Clock()
    steps = [
        *soc_steps(80, 100, 40, 0.2),
        state(10, voltage_v=11.8, current_a=-30.0, alarms=frozenset({Alarm.PACK_UNDERVOLTAGE})),
        state(20, voltage_v=11.7, current_a=-30.0, alarms=frozenset({Alarm.PACK_UNDERVOLTAGE})),
    ]
    first = feed(steps, clock)
    stored = first.to_json()
    again = HistoryTracker.from_json(stored, clock)
    assert again.record == first.record
    assert again.since_full_charge_s() == first.since_full_charge_s() == 19
    # The alarm still active after the restart is the same event: not counted twice.
    again.update(state(30, alarms=frozenset({Alarm.PACK_UNDERVOLTAGE})))
    assert again.record.low_voltage_alarms == 1
    assert again.record.total_drawn_ah == pytest.approx(30 * 10 / 3600)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, {}),
        ("garbage", {}),
        ([1, 2], {}),
        ({"full_discharges": "3", "low_alarm": 1}, {}),
        ({"min_voltage_v": float("nan"), "max_voltage_v": float("inf")}, {}),
        ({"full_charges": True, "full_discharges": -4}, {"full_discharges": 0}),
        (
            {"min_cell_v": 3, "unknown": 7, "full_armed": False},
            {"min_cell_v": 3.0, "full_armed": False},
        ),
    ],
)
def test_bad_state_files_are_not_fatal(stored: Any, expected: dict[str, Any]) -> None:
    record = HistoryTracker.from_json(stored).record
    assert record == HistoryRecord(**expected)
