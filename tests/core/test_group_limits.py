from dataclasses import replace

import pytest

from batmux.core.bank_config import GroupConfig, LimitsConfig
from batmux.core.group_limits import GroupLimitState, group_limits
from batmux.core.groups import merge_group
from batmux.core.limits import LimitResult
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from core.bank_factory import state

NOW = 50.0


def member(name: str, cap: float, ccl: float, dcl: float, cvl: float = 55.2, **kw) -> tuple:
    s = replace(state(name, NOW, capacity_ah=cap, **kw), limits=ChargeLimits(cvl, ccl, dcl, 46.4))
    result = LimitResult(s.limits, "cell_voltage", "configured", "bulk")
    return s, result


def run(
    cfg: GroupConfig, specs: dict[str, tuple], limits: LimitsConfig | None = None
) -> ChargeLimits:
    states: dict[str, BatteryState] = {n: s for n, (s, _) in specs.items()}
    results = {n: r for n, (_, r) in specs.items()}
    group = merge_group(cfg, states, NOW)
    out = group_limits(
        cfg, limits or LimitsConfig(), GroupLimitState(), group, states, results, NOW
    )
    return out.limits


PAR = GroupConfig(name="bank", members=["a", "b"])


@pytest.mark.parametrize(
    ("a", "b", "ccl", "dcl", "reason"),
    [
        # equal packs: N × the smallest limit
        ((100, 50, 60), (100, 40, 60), 80, 120, "charge:b:cell_voltage discharge:a:configured"),
        # 100 Ah + 300 Ah: a takes 1/4 of the bank current → a's 50 A allows 200 A
        ((100, 50, 60), (300, 100, 60), 133.33, 80, "charge:b:cell_voltage"),
        ((100, 0, 60), (100, 100, 60), 0, 120, "charge:blocked_by_a"),
        ((100, 50, 0), (100, 100, 60), 100, 0, "discharge:blocked_by_a"),
    ],
)
def test_parallel_scaling_and_blocking(
    a: tuple, b: tuple, ccl: float, dcl: float, reason: str
) -> None:
    out = run(PAR, {"a": member("a", *a), "b": member("b", *b)})
    assert out.charge_current_a == pytest.approx(ccl, abs=0.01)
    assert out.discharge_current_a == pytest.approx(dcl, abs=0.01)
    assert reason in out.reason


def test_parallel_cvl_is_member_minimum() -> None:
    out = run(PAR, {"a": member("a", 100, 50, 60, 55.2), "b": member("b", 100, 50, 60, 54.45)})
    assert out.charge_voltage_v == pytest.approx(54.45)
    assert "cvl:b:bulk" in out.reason


def test_switch_off_member_blocks_group_charge() -> None:
    out = run(
        PAR, {"a": member("a", 100, 50, 60, charge_enabled=False), "b": member("b", 100, 50, 60)}
    )
    assert out.charge_current_a == 0 and out.discharge_current_a == 120


def test_group_max_caps() -> None:
    cfg = LimitsConfig(max_charge_current=70.0)
    out = run(PAR, {"a": member("a", 100, 50, 60), "b": member("b", 100, 50, 60)}, cfg)
    assert out.charge_current_a == 70 and "charge:configured" in out.reason


def test_series_limits() -> None:
    cfg = GroupConfig(name="s", mode="series", members=["a", "b"])
    out = run(cfg, {"a": member("a", 100, 50, 60, 27.6), "b": member("b", 100, 40, 70, 27.5)})
    assert out.charge_current_a == 40 and out.discharge_current_a == 60
    assert out.charge_voltage_v == pytest.approx(55.1)
    assert out.discharge_voltage_v == pytest.approx(92.8)


@pytest.mark.parametrize("mode", ["parallel", "series"])
def test_group_below_min_members_is_stale(mode: str) -> None:
    cfg = GroupConfig(
        name="g", mode=mode, members=["a", "b"], min_members=1 if mode == "series" else 2
    )
    a = member("a", 100, 50, 60)
    b_state, b_result = member("b", 100, 50, 60)
    b_state = replace(b_state, available=False)
    out = run(cfg, {"a": a, "b": (b_state, b_result)})
    assert (out.charge_current_a, out.discharge_current_a, out.reason) == (0, 0, "stale")


def test_unknown_capacity_falls_back_to_equal_split() -> None:
    a = member("a", 100, 50, 60)
    b_state, b_result = member("b", 100, 30, 60)
    assert b_state.sample is not None
    b_state = replace(b_state, sample=b_state.sample.with_(capacity_ah=None))
    out = run(PAR, {"a": a, "b": (b_state, b_result)})
    assert out.charge_current_a == 60
