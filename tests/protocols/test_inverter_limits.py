"""Safe inverter limits: stale → 0 A, CVL never 0, last good window kept."""

from __future__ import annotations

import time

from batmux.model.limits import ChargeLimits
from batmux.protocols.inverter_limits import (
    NO_LIMITS,
    NOT_READY,
    STALE,
    LimitKeeper,
    stale_reason,
)
from protocols.can_vectors import state

GOOD = ChargeLimits(55.2, 100.0, 150.0, 46.0, reason="")


def test_fresh_state_passes_limits_through() -> None:
    keeper = LimitKeeper(stale_after_s=30)
    got = keeper.limits(state(GOOD, voltage_v=52.0), time.time())
    assert got == GOOD


def test_stale_variants_give_zero_amps_and_keep_cvl() -> None:
    keeper = LimitKeeper(stale_after_s=30)
    keeper.limits(state(GOOD, voltage_v=52.0), time.time())
    cases = {
        "unavailable": state(GOOD, available=False, voltage_v=52.0),
        "old": state(GOOD, age_s=31, voltage_v=52.0),
        "reason": state(ChargeLimits(0.0, 0.0, 0.0, None, reason=STALE), voltage_v=52.0),
        "none": None,
    }
    for name, st_ in cases.items():
        got = keeper.limits(st_, time.time())
        assert got is not None, name
        assert (got.charge_current_a, got.discharge_current_a) == (0.0, 0.0), name
        assert got.charge_voltage_v == 55.2 and got.discharge_voltage_v == 46.0, name
        assert got.reason == STALE, name


def test_no_limits_blocks() -> None:
    keeper = LimitKeeper(safe_charge_voltage_v=54.0)
    got = keeper.limits(state(None, voltage_v=52.0))
    assert got == ChargeLimits(54.0, 0.0, 0.0, None, reason=NOT_READY)  # nothing good yet
    keeper.limits(state(GOOD, voltage_v=52.0), time.time())
    got = keeper.limits(state(None, voltage_v=52.0))
    assert got == ChargeLimits(55.2, 0.0, 0.0, 46.0, reason=NO_LIMITS)
    assert stale_reason(state(None, voltage_v=52.0), None, None) == NO_LIMITS


def test_cvl_never_zero() -> None:
    keeper = LimitKeeper()
    assert keeper.limits(None) is None  # nothing known: the sink sends nothing
    assert keeper.limits(state(ChargeLimits(0.0, 10, 10), voltage_v=52.0)) is None
    keeper.limits(state(GOOD, voltage_v=52.0))
    zero = keeper.limits(state(ChargeLimits(0.0, 10.0, 10.0, 46.0), voltage_v=52.0))
    assert zero is not None and zero.charge_voltage_v == 55.2


def test_recovery_and_negative_clamp() -> None:
    keeper = LimitKeeper(stale_after_s=5)
    old = keeper.limits(state(GOOD, age_s=10, voltage_v=52.0), time.time())
    assert old is not None and old.charge_current_a == 0 and old.reason == NOT_READY
    neg = ChargeLimits(55.0, -3.0, 20.0, 46.0)
    got = keeper.limits(state(neg, voltage_v=52.0), time.time())
    assert got is not None and got.charge_current_a == 0.0 and got.discharge_current_a == 20.0
