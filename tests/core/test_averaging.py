"""Averaging over one publish period: numbers mean, lists element-wise, states from the newest."""

from __future__ import annotations

import pytest

from batmux.core.averaging import average
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample


def test_single_sample_is_returned_as_is() -> None:
    sample = BatterySample(timestamp=1.0, voltage_v=52.0, current_a=3.0)
    assert average([sample]) is sample


def test_numbers_are_averaged() -> None:
    samples = [
        BatterySample(
            timestamp=10.0,
            voltage_v=52.0,
            current_a=10.0,
            soc_pct=50.0,
            charge_ah=50.0,
            mos_temperature_c=30.0,
        ),
        BatterySample(
            timestamp=11.0,
            voltage_v=53.0,
            current_a=-20.0,
            soc_pct=51.0,
            charge_ah=51.0,
            mos_temperature_c=32.0,
        ),
        BatterySample(
            timestamp=12.0,
            voltage_v=54.0,
            current_a=40.0,
            soc_pct=52.0,
            charge_ah=52.0,
            mos_temperature_c=34.0,
        ),
    ]
    avg = average(samples)
    assert avg.voltage_v == pytest.approx(53.0)
    assert avg.current_a == pytest.approx(10.0)
    assert avg.soc_pct == pytest.approx(51.0)
    assert avg.charge_ah == pytest.approx(51.0)
    assert avg.mos_temperature_c == pytest.approx(32.0)
    # power is the mean of the powers (520 - 1060 + 2160) / 3, not mean V · mean I
    assert avg.power_w == pytest.approx((520.0 - 1060.0 + 2160.0) / 3)
    assert avg.timestamp == 12.0


def test_unknown_values_are_left_out_of_the_mean() -> None:
    samples = [
        BatterySample(timestamp=1.0, voltage_v=50.0, soc_pct=None),
        BatterySample(timestamp=2.0, voltage_v=None, soc_pct=40.0),
        BatterySample(timestamp=3.0, voltage_v=52.0, soc_pct=None),
    ]
    avg = average(samples)
    assert avg.voltage_v == pytest.approx(51.0)
    assert avg.soc_pct == pytest.approx(40.0)
    assert avg.current_a is None and avg.power_w is None


def test_cell_and_temperature_lists_are_averaged_element_wise() -> None:
    samples = [
        BatterySample(timestamp=1.0, cell_voltages_v=(3.30, 3.20, 3.40), temperatures_c=(20, 30)),
        BatterySample(timestamp=2.0, cell_voltages_v=(3.32, 3.22, 3.42), temperatures_c=(22, 34)),
    ]
    avg = average(samples)
    assert avg.cell_voltages_v == pytest.approx((3.31, 3.21, 3.41))
    assert avg.temperatures_c == pytest.approx((21.0, 32.0))
    assert avg.min_cell_id == 2 and avg.max_cell_id == 3
    assert avg.delta_cell_v == pytest.approx(0.2)


def test_lists_of_another_length_do_not_mix_with_the_newest() -> None:
    samples = [
        BatterySample(timestamp=1.0, cell_voltages_v=(3.0, 3.0)),
        BatterySample(timestamp=2.0, cell_voltages_v=(3.1, 3.1, 3.1)),  # other length: skipped
        BatterySample(timestamp=3.0, cell_voltages_v=(3.2, 3.4)),
        BatterySample(timestamp=4.0, cell_voltages_v=()),  # no cells this time: ignored
    ]
    assert average(samples).cell_voltages_v == pytest.approx((3.1, 3.2))
    changed = [
        BatterySample(timestamp=1.0, cell_voltages_v=(3.0, 3.0)),
        BatterySample(timestamp=2.0, cell_voltages_v=(3.3, 3.3, 3.3)),
    ]
    assert average(changed).cell_voltages_v == pytest.approx((3.3, 3.3, 3.3))


def test_states_and_counters_come_from_the_newest_sample() -> None:
    old = BatterySample(
        timestamp=1.0,
        voltage_v=52.0,
        capacity_ah=100.0,
        cycles=10,
        charge_enabled=True,
        discharge_enabled=True,
        balancing=True,
        soh_pct=99.0,
        alarms=frozenset({Alarm.CELL_OVERVOLTAGE}),
        extra={"uptime_s": 100},
    )
    new = BatterySample(
        timestamp=2.0,
        voltage_v=54.0,
        capacity_ah=280.0,
        cycles=11,
        charge_enabled=False,
        discharge_enabled=True,
        balancing=False,
        soh_pct=98.0,
        alarms=frozenset({Alarm.LOW_SOC}),
        extra={"uptime_s": 101},
    )
    avg = average([old, new])
    assert avg.voltage_v == pytest.approx(53.0)
    assert avg.capacity_ah == 280.0
    assert avg.cycles == 11
    assert avg.charge_enabled is False
    assert avg.discharge_enabled is True
    assert avg.balancing is False
    assert avg.soh_pct == 98.0
    assert avg.alarms == frozenset({Alarm.LOW_SOC})
    assert avg.extra == {"uptime_s": 101}
    assert avg.to_json()["alarms"] == ["low_soc"]
