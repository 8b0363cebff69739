import pytest

from batmux.core.bank_config import LimitsConfig
from batmux.core.limits import LimitState, battery_limits, current_targets
from batmux.core.ramp import HoldRamp
from core.bank_factory import cells, sample

CFG = LimitsConfig(max_charge_current=100.0, max_discharge_current=200.0)


@pytest.mark.parametrize(
    ("changes", "ccl", "charge_rule", "dcl", "discharge_rule"),
    [
        ({}, 100, "configured", 200, "configured"),
        ({"cells": cells(16, 3.30, c3=3.40)}, 25, "cell_voltage", 200, "configured"),
        ({"cells": cells(16, 3.30, c3=3.50)}, 0, "cell_voltage", 200, "configured"),
        ({"cells": cells(16, 3.30, c3=3.10)}, 100, "configured", 50, "cell_voltage"),
        ({"cells": cells(16, 3.30, c3=3.00)}, 100, "configured", 10, "cell_voltage"),
        # both min and max temperature are evaluated; the lower result wins
        ({"temperatures_c": (2.0, 25.0)}, 25, "temperature", 70, "temperature"),
        ({"temperatures_c": (25.0, 45.0)}, 50, "temperature", 100, "temperature"),
        ({"temperatures_c": (0.0, 25.0)}, 0, "temperature", 50, "temperature"),
        ({"temperatures_c": (-10.0, 25.0)}, 0, "temperature", 0, "temperature"),
        ({"temperatures_c": ()}, 100, "configured", 200, "configured"),
        ({"mos_temperature_c": 80.0}, 25, "mos_temperature", 50, "mos_temperature"),
        ({"mos_temperature_c": 95.0}, 0, "mos_temperature", 0, "mos_temperature"),
        (
            {"extra": {"charge_current_limit": 40.0, "discharge_current_limit": 300.0}},
            40,
            "bms",
            200,
            "configured",
        ),
        ({"charge_enabled": False}, 0, "charge_switch_off", 200, "configured"),
        ({"discharge_enabled": False}, 100, "configured", 0, "discharge_switch_off"),
        ({"soc_pct": 99.0}, 100, "configured", 200, "configured"),  # SoC tables off by default
    ],
)
def test_current_rules(
    changes: dict, ccl: float, charge_rule: str, dcl: float, discharge_rule: str
) -> None:
    (c, cr), (d, dr) = current_targets(CFG, sample(**changes))
    assert (c, cr, d, dr) == (pytest.approx(ccl), charge_rule, pytest.approx(dcl), discharge_rule)


@pytest.mark.parametrize(
    ("soc", "ccl", "dcl"), [(50, 100, 200), (95, 20, 200), (100, 10, 200), (10, 100, 40)]
)
def test_soc_tables_when_enabled(soc: float, ccl: float, dcl: float) -> None:
    cfg = CFG.model_copy(update={"soc_tables": True})
    (c, _), (d, _) = current_targets(cfg, sample(soc_pct=soc))
    assert (c, d) == (pytest.approx(ccl), pytest.approx(dcl))


def test_default_maximum_is_50_and_60_amps() -> None:
    (c, _), (d, _) = current_targets(LimitsConfig(), sample())
    assert (c, d) == (50.0, 60.0)


def test_hold_and_ramp() -> None:
    ramp = HoldRamp()
    # (t, target, expected): decreases at once, increases after 30 s hold, then 5 A/s
    steps = [
        (0, 100, 100),
        (1, 20, 20),
        (2, 100, 20),
        (31, 100, 20),
        (32, 100, 20),  # hold ends at 32
        (33, 100, 25),
        (35, 100, 35),
        (36, 10, 10),  # a new drop cuts in at once and restarts the hold
        (37, 100, 10),
        (67, 100, 10),
        (100, 100, 100 if 10 + 5 * 33 > 100 else 10 + 5 * 33),
    ]
    for t, target, expected in steps:
        assert ramp.step(target, t, 30, 5) == pytest.approx(expected), t


def test_limits_recover_through_hold_and_ramp_and_say_so() -> None:
    state = LimitState()
    hot = sample(temperatures_c=(25.0, 45.0))
    r = battery_limits(CFG, hot, True, state, 0.0)
    assert r.limits.charge_current_a == 50
    r = battery_limits(CFG, sample(), True, state, 1.0)
    assert r.limits.charge_current_a == 50 and r.charge_rule == "recovering"
    r = battery_limits(CFG, sample(), True, state, 41.0)
    assert r.limits.charge_current_a == 100 and r.charge_rule == "configured"
    assert r.limits.reason == "charge:configured discharge:recovering cvl:bulk"
    assert r.limits.discharge_current_a == 150  # 100 + 10 s × 5 A/s after the 30 s hold
    r = battery_limits(CFG, sample(), True, state, 60.0)
    assert r.limits.reason == "charge:configured discharge:configured cvl:bulk"


def test_stale_is_zero_at_once_and_recovers_with_hold() -> None:
    state = LimitState()
    r = battery_limits(CFG, sample(), True, state, 0.0)
    assert (r.limits.charge_current_a, r.limits.discharge_current_a) == (100, 200)
    r = battery_limits(CFG, sample(), False, state, 11.0)
    assert (r.limits.charge_current_a, r.limits.discharge_current_a) == (0, 0)
    assert r.limits.reason == "stale"
    assert r.limits.charge_voltage_v == pytest.approx(55.2)  # last CVL is kept
    r = battery_limits(CFG, None, False, state, 12.0)
    assert r.limits.reason == "stale"
    r = battery_limits(CFG, sample(), True, state, 13.0)
    assert (r.limits.charge_current_a, r.limits.discharge_current_a) == (0, 0)
    assert r.charge_rule == "recovering"
    r = battery_limits(CFG, sample(), True, state, 13.0 + 30 + 20)
    assert (r.limits.charge_current_a, r.limits.discharge_current_a) == (100, 100)
    r = battery_limits(CFG, sample(), True, state, 13.0 + 30 + 40)
    assert r.limits.discharge_current_a == 200


def test_undervoltage_latch_holds_dcl_until_hysteresis() -> None:
    cfg = CFG.model_copy(update={"hold_s": 0.0, "ramp_a_per_s": 1000.0})
    state = LimitState()
    steps = [
        # (min cell, expected DCL, rule)
        (3.30, 200, "configured"),
        (2.90, 0, "undervoltage_latch"),  # at cell_voltage_min → latch
        (2.95, 0, "undervoltage_latch"),
        (2.99, 0, "undervoltage_latch"),
        (3.00, 10, "cell_voltage"),  # recovered by 0.1 V: table value again
        (2.95, 5.5, "cell_voltage"),  # no longer latched above cell_voltage_min
    ]
    for i, (low, dcl, rule) in enumerate(steps):
        s = sample(cells=cells(16, 3.30, c7=low))
        battery_limits(cfg, s, True, state, float(i))
        r = battery_limits(cfg, s, True, state, i + 0.5)  # a rise shows one step later
        assert r.limits.discharge_current_a == pytest.approx(dcl, abs=0.01), low
        assert r.discharge_rule == rule, low


def test_no_cells_blocks() -> None:
    r = battery_limits(CFG, sample(cells=()), True, LimitState(), 0.0)
    assert r.limits.charge_current_a == 0 and r.charge_rule == "no_cell_data"
    cfg = CFG.model_copy(update={"cell_count": 16})
    r = battery_limits(cfg, sample(cells=()), True, LimitState(), 0.0)
    assert r.limits.charge_current_a == 100 and r.limits.charge_voltage_v == pytest.approx(55.2)
    assert r.limits.discharge_voltage_v == pytest.approx(46.4)


def test_battery_reporting_its_own_limits_keeps_them_without_cells() -> None:
    """A Pylontech/BYD battery read over CAN carries CVL/CCL/DCL/DVL but no cell voltages."""
    own = {"charge_voltage_limit": 53.2, "charge_current_limit": 80.0,
           "discharge_current_limit": 150.0, "discharge_voltage_limit": 46.0}  # fmt: skip
    r = battery_limits(CFG, sample(cells=(), extra=own), True, LimitState(), 0.0)
    assert r.limits.charge_voltage_v == pytest.approx(53.2)
    assert r.limits.discharge_voltage_v == pytest.approx(46.0)
    assert (r.limits.charge_current_a, r.charge_rule) == (80.0, "bms")
    assert (r.limits.discharge_current_a, r.discharge_rule) == (150.0, "bms")
    assert r.voltage_rule == "bms"
    # Its own switches and the temperature tables still apply.
    cold = sample(cells=(), extra=own, temperatures_c=(0.0, 5.0))
    assert battery_limits(CFG, cold, True, LimitState(), 0.0).limits.charge_current_a == 0
    # Stale data still means 0 A.
    stale = battery_limits(CFG, sample(cells=(), extra=own), False, LimitState(), 0.0)
    assert stale.limits.charge_current_a == 0 and stale.limits.reason == "stale"


def test_a_zero_charge_voltage_is_published_as_unknown() -> None:
    """No cell data gives CVL 0: the state JSON says null rather than a 0 V limit."""
    from batmux.model.limits import ChargeLimits

    out = ChargeLimits(0.0, 0.0, 0.0, reason="charge:no_cell_data").to_json()
    assert out["charge_voltage_limit"] is None
    assert (out["charge_current_limit"], out["discharge_current_limit"]) == (0.0, 0.0)
    assert ChargeLimits(55.2, 50.0, 60.0).to_json()["charge_voltage_limit"] == 55.2
