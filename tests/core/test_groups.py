from dataclasses import replace

import pytest

from batmux.core.bank_config import GroupConfig
from batmux.core.groups import merge_group
from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState, MemberCounts, Meters
from core.bank_factory import cells, state

NOW = 100.0


def members() -> dict[str, BatteryState]:
    return {
        "a": state(
            "a",
            NOW - 1,
            voltage_v=53.0,
            current_a=10.0,
            soc_pct=80.0,
            capacity_ah=100.0,
            charge_ah=80.0,
            cycles=10,
            cells=cells(4, 3.30, c3=3.35),
            temperatures_c=(20.0, 22.0),
            mos_temperature_c=30.0,
            alarms=frozenset({Alarm.CELL_IMBALANCE}),
        ),
        "b": state(
            "b",
            NOW - 2,
            voltage_v=53.2,
            current_a=-4.0,
            soc_pct=50.0,
            capacity_ah=300.0,
            charge_ah=150.0,
            cycles=20,
            cells=cells(4, 3.31, c2=3.25),
            temperatures_c=(25.0, 28.0),
            mos_temperature_c=35.0,
            charge_enabled=False,
            alarms=frozenset({Alarm.LOW_SOC}),
        ),
    }


def test_parallel_merge() -> None:
    cfg = GroupConfig(name="bank", mode="parallel", members=["a", "b"])
    g = merge_group(cfg, members(), NOW)
    s = g.sample
    assert g.available and g.is_group and g.name == "bank"
    assert s is not None
    expected = {
        "voltage_v": 53.1,
        "current_a": 6.0,
        "power_w": 53.0 * 10 + 53.2 * -4,
        "soc_pct": (80 * 100 + 50 * 300) / 400,  # capacity-weighted: 57.5
        "charge_ah": 230.0,
        "capacity_ah": 400.0,
        "cycles": 15.0,
        "mos_temperature_c": 35.0,
        "charge_enabled": False,  # AND
        "discharge_enabled": True,
        "timestamp": NOW - 2,  # the oldest member
    }
    for field, value in expected.items():
        assert getattr(s, field) == pytest.approx(value), field
    assert s.alarms == {Alarm.CELL_IMBALANCE, Alarm.LOW_SOC}
    assert (s.min_cell_v, s.max_cell_v) == (3.25, 3.35)
    assert s.extra["min_cell_id"] == "b:2" and s.extra["max_cell_id"] == "a:3"
    assert s.extra["min_temperature_id"] == "a:1" and s.extra["max_temperature_id"] == "b:2"
    assert (s.extra["min_temperature"], s.extra["max_temperature"]) == (20.0, 28.0)
    assert s.extra["cells_in_series"] == 4
    # b's charge switch is off: it blocks charge
    assert g.members == MemberCounts(online=2, offline=0, blocking_charge=1, blocking_discharge=0)
    out = g.to_json()
    assert out["members_online"] == 2 and out["min_cell_id"] == "b:2"
    # a bank's cell ids in the state JSON name the member ("battery:cell"), not a joined index
    assert (out["cell_min_id"], out["cell_max_id"]) == ("b:2", "a:3")


def test_series_merge_and_current_disagreement() -> None:
    cfg = GroupConfig(name="s", mode="series", members=["b", "a"], current_disagreement_a=5.0)
    g = merge_group(cfg, members(), NOW)
    s = g.sample
    assert s is not None
    assert s.voltage_v == pytest.approx(106.2)
    assert s.current_a == pytest.approx(3.0)
    assert s.soc_pct == 50.0 and s.capacity_ah == 100.0
    assert s.cell_voltages_v == cells(4, 3.31, c2=3.25) + cells(4, 3.30, c3=3.35)  # in order
    assert s.extra["current_disagreement_a"] == 14.0
    assert "disagree" in g.diagnostics["warnings"][0]
    ok = GroupConfig(name="s", mode="series", members=["a", "b"], current_disagreement_a=20.0)
    g = merge_group(ok, members(), NOW)
    assert g.sample is not None and "current_disagreement_a" not in g.sample.extra


@pytest.mark.parametrize(
    ("min_members", "b_change", "available", "online", "offline"),
    [
        (None, {}, True, 2, 0),
        (None, {"t": NOW - 11}, False, 1, 1),  # b older than stale_after: excluded
        (None, {"available": False}, False, 1, 1),
        (1, {"t": NOW - 11}, True, 1, 1),
        (1, "missing", True, 1, 1),
        (2, "missing", False, 1, 1),
    ],
)
def test_offline_members_and_min_members(
    min_members: int | None, b_change: object, available: bool, online: int, offline: int
) -> None:
    cfg = GroupConfig(name="bank", members=["a", "b"], min_members=min_members)
    states = {"a": state("a", NOW, capacity_ah=100.0, current_a=5.0)}
    if b_change != "missing":
        assert isinstance(b_change, dict)
        states["b"] = state("b", **{"t": NOW, **b_change}, current_a=7.0)
    g = merge_group(cfg, states, NOW, stale_after=10.0)
    assert g.available is available
    assert g.members is not None
    assert (g.members.online, g.members.offline) == (online, offline)
    assert g.sample is not None
    # only fresh members are merged
    assert g.sample.current_a == (12.0 if online == 2 else 5.0)


def test_member_limit_zero_counts_as_blocking() -> None:
    cfg = GroupConfig(name="bank", members=["a", "b"])
    states = {
        "a": replace(state("a", NOW), limits=ChargeLimits(55.2, 50.0, 0.0)),
        "b": state("b", NOW),
    }
    g = merge_group(cfg, states, NOW)
    assert g.members == MemberCounts(2, 0, 0, 1)


def test_no_member_online() -> None:
    cfg = GroupConfig(name="bank", members=["a", "b"], min_members=1)
    g = merge_group(cfg, {}, NOW)
    assert not g.available and g.sample is None
    assert g.members == MemberCounts(0, 2, 0, 0)


def test_group_meters_sum_all_members_even_offline() -> None:
    cfg = GroupConfig(name="bank", members=["a", "b"], min_members=1)
    states = {
        "a": replace(state("a", NOW), meters=Meters(1.5, 1.0, 2.0)),
        "b": replace(state("b", NOW - 60), meters=Meters(2.5, 2.0, 4.0)),
    }
    g = merge_group(cfg, states, NOW)
    assert g.meters == Meters(4.0, 3.0, 3.0)
