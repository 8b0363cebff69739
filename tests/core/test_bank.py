"""BankEngine: the whole chain, driven like the runtime does (once per publish period)."""

from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.core.bank import STATE_FILE, BankEngine
from batmux.model.alarms import Alarm
from batmux.model.state import BatteryState, MemberCounts
from core.bank_factory import cells, state

PERIOD = 5.0


def config(**group: object) -> object:
    return parse_config(
        {
            "batteries": [
                {"name": "a", "type": "jk", "limits": {"max_charge_current": 100}},
                {"name": "b", "type": "jk", "limits": {"max_charge_current": 100}},
            ],
            "groups": [{"name": "bank", "mode": "parallel", "members": ["a", "b"], **group}],
        }
    )


def by_name(states: list[BatteryState]) -> dict[str, BatteryState]:
    return {s.name: s for s in states}


def test_two_pack_bank_has_limits_and_counts() -> None:
    engine = BankEngine(config(min_members=2), clock=lambda: 0.0)
    out = by_name(engine.update({"a": state("a", 0.0), "b": state("b", 0.0)}))
    assert set(out) == {"a", "b", "bank"}
    bank = out["bank"]
    assert bank.is_group and bank.available
    assert bank.members == MemberCounts(2, 0, 0, 0)
    assert bank.limits is not None and out["a"].limits is not None
    assert out["a"].limits.charge_current_a == 100
    assert bank.limits.charge_current_a == 200  # two equal packs: 2 × 100 A
    assert bank.limits.discharge_current_a == 120  # 2 × default 60 A
    assert bank.limits.charge_voltage_v == pytest.approx(55.2)
    assert bank.to_json()["limit_reason"].startswith("charge:")


def test_stopped_member_goes_stale_within_two_stale_periods_and_recovers() -> None:
    engine = BankEngine(config(min_members=2))
    last_b = 0.0
    t = 0.0
    stale_at = None
    while t <= 40.0:
        if t < 10.0:
            last_b = t  # b stops delivering at t = 10
        b = state("b", last_b)
        out = by_name(engine.update({"a": state("a", t), "b": b}, now=t))
        bank = out["bank"]
        assert bank.limits is not None
        if bank.limits.reason == "stale" and stale_at is None:
            stale_at = t
            assert bank.members == MemberCounts(1, 1, 0, 0)
            assert (bank.limits.charge_current_a, bank.limits.discharge_current_a) == (0, 0)
            assert out["b"].limits is not None and out["b"].limits.reason == "stale"
        t += PERIOD
    assert stale_at is not None and stale_at - last_b <= 2 * 10.0
    # b comes back: limits recover through the hold (30 s) and ramp (5 A/s)
    values = []
    for _ in range(30):  # member hold+ramp, then the group's own hold+ramp
        out = by_name(engine.update({"a": state("a", t), "b": state("b", t)}, now=t))
        limits = out["bank"].limits
        assert limits is not None
        values.append(limits.charge_current_a)
        t += PERIOD
    assert values[0] == 0 and values == sorted(values) and values[-1] == 200


def test_min_members_one_keeps_bank_up_with_one_pack() -> None:
    engine = BankEngine(config(min_members=1))
    out = by_name(engine.update({"a": state("a", 100.0), "b": state("b", 80.0)}, now=100.0))
    bank = out["bank"]
    assert bank.available and bank.members == MemberCounts(1, 1, 0, 0)
    assert bank.limits is not None and bank.limits.charge_current_a == 100


def test_implausible_sample_never_reaches_group_or_limit() -> None:
    engine = BankEngine(config(min_members=1))
    bad = state("b", 0.0, soc_pct=250.0, current_a=500.0)
    out = by_name(engine.update({"a": state("a", 0.0, current_a=1.0), "b": bad}, now=0.0))
    assert out["b"].sample is None and not out["b"].available
    assert out["b"].limits is not None and out["b"].limits.reason == "stale"
    assert out["bank"].sample is not None and out["bank"].sample.current_a == 1.0
    assert engine.rejected == {"b": {"SoC 250.0 % is outside 0..100": 1}}


def test_blocking_member_zeroes_group_charge() -> None:
    engine = BankEngine(config())
    a = state("a", 0.0, cells=cells(16, 3.30, c1=3.55))  # cell above the table's 0 point
    out = by_name(engine.update({"a": a, "b": state("b", 0.0)}, now=0.0))
    bank = out["bank"]
    assert bank.limits is not None and bank.limits.charge_current_a == 0
    assert "blocked_by_a" in bank.limits.reason
    assert bank.members == MemberCounts(2, 0, 1, 0)


def test_member_alarm_zeroes_bank_charge_with_the_reason() -> None:
    engine = BankEngine(config())
    a = state("a", 0.0, cells=cells(16, 3.30, c7=3.48), alarms=frozenset({Alarm.CELL_OVERVOLTAGE}))
    out = by_name(engine.update({"a": a, "b": state("b", 0.0)}, now=0.0))
    assert out["a"].limits is not None and out["a"].limits.charge_current_a == 0
    assert out["a"].limits.reason.startswith("charge:alarm_cell_overvoltage discharge:configured")
    bank = out["bank"]
    assert bank.limits is not None
    assert (bank.limits.charge_current_a, bank.limits.discharge_current_a) == (0, 120)
    assert bank.limits.reason.startswith("charge:blocked_by_a:alarm_cell_overvoltage ")
    assert bank.to_json()["members_blocking_charge"] == 1


def shunt_config(tmp_path: Path) -> object:
    return parse_config(
        {
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "a",
                    "type": "jk",
                    "coulomb_counter": {"current_from": "shunt", "invert_current": True},
                    "charge_switch": {"stop_soc": 90, "start_soc": 80, "calibration_days": 0},
                },
                {"name": "shunt", "type": "jk"},
            ],
        }
    )


def test_coulomb_from_other_device_inverted_and_persisted(tmp_path: Path) -> None:
    cfg = shunt_config(tmp_path)
    engine = BankEngine(cfg)
    t = 0.0
    for _ in range(73):  # 360 s with the shunt seeing +10 A (its sign: + = discharging)
        states = {"a": state("a", t, soc_pct=50.0), "shunt": state("shunt", t, current_a=10.0)}
        out = by_name(engine.update(states, now=t))
        t += 5.0
    a = out["a"].sample
    assert a is not None
    assert a.soc_pct == pytest.approx(49.0)  # 100 Ah pack, 1 Ah out
    assert a.extra["bms_soc"] == 50.0
    engine.save_state(tmp_path)
    (tmp_path / f"{STATE_FILE}.123.tmp").write_text("{torn")  # killed mid-write earlier
    again = BankEngine(cfg)
    again.load_state(tmp_path)
    out = by_name(again.update({"a": state("a", t, soc_pct=50.0)}, now=t))
    assert out["a"].sample is not None and out["a"].sample.soc_pct == pytest.approx(49.0)


def test_charge_switch_wish_is_reported() -> None:
    cfg = parse_config(
        {
            "batteries": [
                {"name": "a", "type": "jk", "charge_switch": {"stop_soc": 90, "start_soc": 80}}
            ]
        }
    )
    engine = BankEngine(cfg)
    engine.update({"a": state("a", 0.0, soc_pct=91.0)}, now=0.0)
    assert engine.switch_actions == {"a": False}
    engine.update({"a": state("a", 5.0, soc_pct=91.0, charge_enabled=False)}, now=5.0)
    assert engine.switch_actions == {}
    engine.update({"a": state("a", 10.0, soc_pct=80.0, charge_enabled=False)}, now=10.0)
    assert engine.switch_actions == {"a": True}


def test_nested_groups_and_series() -> None:
    cfg = parse_config(
        {
            "batteries": [{"name": n, "type": "jk"} for n in "abcd"],
            "groups": [
                {"name": "top", "mode": "series", "members": ["left", "right"]},
                {"name": "left", "members": ["a", "b"]},
                {"name": "right", "members": ["c", "d"]},
            ],
        }
    )
    engine = BankEngine(cfg, clock=lambda: 0.0)
    out = by_name(engine.update({n: state(n, 0.0, current_a=5.0) for n in "abcd"}))
    top = out["top"]
    assert top.available and top.sample is not None and top.limits is not None
    assert top.sample.voltage_v == pytest.approx(2 * 52.8)
    assert top.sample.current_a == pytest.approx(10.0)
    assert top.limits.charge_voltage_v == pytest.approx(110.4)
    assert top.limits.charge_current_a == 100  # 2 × 50 A per parallel pair
    assert list(out) == ["a", "b", "c", "d", "left", "right", "top"]


def test_process_is_the_runtime_processor_signature() -> None:
    engine = BankEngine(config())
    out = engine.process([state("a", 0.0), state("b", 0.0)], 0.0)
    assert [s.name for s in out] == ["a", "b", "bank"]
    assert all(s.limits is not None for s in out)
