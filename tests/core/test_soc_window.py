"""The SoC window mapping (core.soc_window) with real numbers."""

from __future__ import annotations

import pytest

from batmux.core.soc_window import (
    ABOVE_MAX,
    BELOW_MIN,
    SocWindow,
    apply_soc_window,
    scale_soc,
    window_block,
    window_status,
)
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

W10_90 = SocWindow(10, 90)
LIMITS = ChargeLimits(56.8, 100.0, 150.0, 46.4)


def state(soc: float | None = 50.0, limits: ChargeLimits | None = LIMITS, **kw: object):  # type: ignore[no-untyped-def]
    sample = BatterySample(
        timestamp=1.0, voltage_v=52.0, soc_pct=soc, capacity_ah=100.0, soh_pct=97.5, **kw
    )
    return BatteryState("bank", True, sample, limits=limits, last_good_at=1.0)


@pytest.mark.parametrize(
    ("lo", "hi", "real", "shown", "block"),
    [
        (10, 90, 50.0, 50.0, ""),
        (10, 90, 10.0, 0.0, BELOW_MIN),
        (10, 90, 90.0, 100.0, ABOVE_MAX),
        (10, 90, 5.0, 0.0, BELOW_MIN),
        (10, 90, 97.0, 100.0, ABOVE_MAX),
        (10, 90, 30.0, 25.0, ""),
        (10, 90, 10.8, 1.0, ""),
        (10, 95, 52.5, 50.0, ""),
        (10, 95, 95.0, 100.0, ABOVE_MAX),
        (20, 100, 100.0, 100.0, ABOVE_MAX),
        (0, 100, 0.0, 0.0, BELOW_MIN),
        (0, 100, 63.21, 63.21, ""),
        (0, 80, 60.0, 75.0, ""),
    ],
)
def test_mapping_table(lo: float, hi: float, real: float, shown: float, block: str) -> None:
    window = SocWindow(lo, hi)
    assert scale_soc(real, window) == shown
    assert window_block(real, window) == block


@pytest.mark.parametrize(
    ("real", "soc", "charge_ah", "ccl", "dcl", "reason"),
    [
        (50.0, 50.0, 40.0, 100.0, 150.0, ""),
        (30.0, 25.0, 20.0, 100.0, 150.0, ""),
        (10.0, 0.0, 0.0, 100.0, 0.0, BELOW_MIN),
        (5.0, 0.0, 0.0, 100.0, 0.0, BELOW_MIN),
        (90.0, 100.0, 80.0, 0.0, 150.0, ABOVE_MAX),
        (99.0, 100.0, 80.0, 0.0, 150.0, ABOVE_MAX),
    ],
)
def test_state_through_window(
    real: float, soc: float, charge_ah: float, ccl: float, dcl: float, reason: str
) -> None:
    shown = apply_soc_window(state(real), W10_90)
    assert shown is not None and shown.sample is not None and shown.limits is not None
    s = shown.sample
    # 100 Ah pack, window 10-90 %: 80 Ah usable; the remaining charge follows the shown SoC
    assert (s.soc_pct, s.capacity_ah, s.charge_ah) == (soc, 80.0, charge_ah)
    assert s.soh_pct == 97.5 and s.voltage_v == 52.0  # untouched
    lim = shown.limits
    assert (lim.charge_current_a, lim.discharge_current_a, lim.reason) == (ccl, dcl, reason)
    assert (lim.charge_voltage_v, lim.discharge_voltage_v) == (56.8, 46.4)


def test_no_window_is_the_same_object() -> None:
    original = state(5.0)
    assert apply_soc_window(original, None) is original
    assert apply_soc_window(None, W10_90) is None
    assert window_status(original, None) == {}


def test_existing_reason_is_kept_and_stale_is_untouched() -> None:
    bound = ChargeLimits(56.8, 100.0, 40.0, 46.4, reason="charge:bms discharge:temperature cvl:bms")
    shown = apply_soc_window(state(8.0, bound), W10_90)
    assert shown is not None and shown.limits is not None
    assert shown.limits.reason == "charge:bms discharge:temperature cvl:bms soc_window_min"
    assert shown.limits.discharge_current_a == 0.0
    stale = ChargeLimits(56.8, 0.0, 0.0, 46.4, reason="stale")
    shown = apply_soc_window(state(8.0, stale), W10_90)
    assert shown is not None and shown.limits == stale  # the fail-safe keys on "stale"


def test_unknown_soc() -> None:
    """Charge ÷ capacity stands in for a missing SoC; with neither, nothing is blocked."""
    shown = apply_soc_window(state(None, charge_ah=5.0), W10_90)
    assert shown is not None and shown.sample is not None and shown.limits is not None
    assert shown.sample.soc_pct == 0.0 and shown.limits.discharge_current_a == 0.0
    shown = apply_soc_window(state(None), W10_90)
    assert shown is not None and shown.sample is not None and shown.limits is not None
    assert shown.sample.soc_pct is None and shown.sample.charge_ah is None
    assert shown.sample.capacity_ah == 80.0 and shown.limits == LIMITS


def test_status_keys() -> None:
    assert window_status(state(5.0), W10_90) == {
        "real_soc": 5.0,
        "reported_soc": 0.0,
        "soc_window_block": BELOW_MIN,
    }
    assert window_status(None, W10_90)["reported_soc"] is None


@pytest.mark.parametrize(("lo", "hi"), [(50, 50), (60, 40), (-1, 90), (10, 101)])
def test_bad_windows_raise(lo: float, hi: float) -> None:
    with pytest.raises(ValueError, match="min < max"):
        SocWindow(lo, hi)
