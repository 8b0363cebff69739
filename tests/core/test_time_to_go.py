"""Time to go (Victron's /TimeToGo): the pure function, the ESS floor, and through the engine."""

from __future__ import annotations

from typing import Any

import pytest

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.core.time_to_go import ess_floor_soc, time_to_go_s
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from core.bank_factory import state


def s(**kw: Any) -> BatterySample:
    return BatterySample(timestamp=0.0, voltage_v=52.8, **kw)


@pytest.mark.parametrize(
    ("sample", "floor", "expected"),
    [
        # 196 Ah left at 30 A: 6.53 h
        (s(current_a=-30.0, charge_ah=196.0, capacity_ah=280.0, soc_pct=70.0), None, 23520),
        # charging, at rest, at the 0.1 A threshold, just above it
        (s(current_a=20.0, charge_ah=196.0, capacity_ah=280.0), None, None),
        (s(current_a=0.0, charge_ah=196.0, capacity_ah=280.0), None, None),
        (s(current_a=-0.1, charge_ah=196.0, capacity_ah=280.0), None, None),
        (s(current_a=-0.12, charge_ah=10.0, capacity_ah=280.0), None, 300000),
        # unknown current or charge
        (s(current_a=None, charge_ah=196.0), None, None),
        (s(current_a=-10.0, soc_pct=50.0), None, None),
        (None, None, None),
        # remaining from SoC × capacity when the BMS gives no Ah
        (s(current_a=-12.5, soc_pct=64.0, capacity_ah=200.0), None, 36864),
        # down to the ESS minimum SoC: (128 − 20 % of 200) Ah / 12.5 A
        (s(current_a=-12.5, charge_ah=128.0, capacity_ah=200.0), 20.0, 25344),
        (s(current_a=-12.5, charge_ah=128.0, capacity_ah=200.0), 0.0, 36864),
        # capacity from Ah / SoC when only those are known
        (s(current_a=-12.5, charge_ah=128.0, soc_pct=64.0), 20.0, 25344),
        (s(current_a=-12.5, charge_ah=128.0), 20.0, None),
        # below the floor and still discharging: nothing left to go
        (s(current_a=-12.5, charge_ah=30.0, capacity_ah=200.0), 20.0, 0),
    ],
)
def test_time_to_go(sample: BatterySample | None, floor: float | None, expected: int | None):
    assert time_to_go_s(sample, floor) == expected


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ([{}, {"ess_min_soc": 20.0}], 20.0),
        ([{"ess_min_soc": 10}], 10.0),
        ([{"ess_min_soc": True}], None),
        ([{"ess_min_soc": 100.0}], None),
        ([{"ess_min_soc": "20"}], None),
        ([], None),
    ],
)
def test_ess_floor(extras: list[dict[str, Any]], expected: float | None) -> None:
    samples = [None, *(s(extra=e) for e in extras)]
    assert ess_floor_soc(samples) == expected


def engine() -> BankEngine:
    cfg = parse_config(
        {
            "batteries": [{"name": "a", "type": "jk"}, {"name": "b", "type": "jk"}],
            "groups": [{"name": "bank", "members": ["a", "b"]}],
        }
    )
    return BankEngine(cfg)


def run(states: list[BatteryState], now: float = 0.0) -> dict[str, dict[str, Any]]:
    out = engine().update({st.name: st for st in states}, now=now)
    return {st.name: st.to_json() for st in out}


def test_engine_publishes_time_to_go_for_batteries_and_bank() -> None:
    a = state("a", current_a=-10.0, charge_ah=50.0, capacity_ah=100.0)
    b = state("b", current_a=-10.0, charge_ah=50.0, capacity_ah=100.0)
    out = run([a, b])
    assert out["a"]["time_to_go"] == 18000  # 50 Ah / 10 A
    assert out["bank"]["time_to_go"] == 18000  # 100 Ah / 20 A
    assert out["bank"]["current"] == -20.0


def test_engine_uses_the_ess_minimum_soc_from_the_victron_input() -> None:
    victron = BatteryState(
        "victron", True, BatterySample(0.0, current_a=-20.0, extra={"ess_min_soc": 20.0})
    )
    a = state("a", current_a=-10.0, charge_ah=50.0, capacity_ah=100.0)
    b = state("b", current_a=-10.0, charge_ah=50.0, capacity_ah=100.0)
    out = run([victron, a, b])
    assert out["a"]["time_to_go"] == 10800  # (50 − 20) Ah / 10 A
    assert out["bank"]["time_to_go"] == 10800  # (100 − 40) Ah / 20 A


def test_time_to_go_is_null_when_charging_or_stale() -> None:
    a = state("a", 30.0, current_a=15.0)
    b = state("b", 0.0, current_a=-10.0)
    out = run([a, b], now=30.0)  # b's sample is 30 s old: stale, so the bank is unavailable
    assert out["a"]["time_to_go"] is None and "time_to_go" in out["a"]
    assert out["b"]["time_to_go"] is None
    assert out["bank"]["time_to_go"] is None
