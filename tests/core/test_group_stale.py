"""A group follows its members into the stale state, whatever their source: a member whose own
limits are stale counts offline, and a group with no member left keeps its last values with
``available: false`` and 0 A (so every output has a whole state to carry)."""

from __future__ import annotations

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.model.state import BatteryState
from core.bank_factory import state


def engine(member_stale_after: float) -> BankEngine:
    limits = {"stale_after": member_stale_after}
    return BankEngine(
        parse_config(
            {
                "batteries": [
                    {"name": "a", "type": "jk", "limits": limits},
                    {"name": "b", "type": "jk", "limits": limits},
                ],
                "groups": [{"name": "bank", "members": ["a", "b"], "min_members": 2}],
            }
        )
    )


def by_name(states: list[BatteryState]) -> dict[str, BatteryState]:
    return {s.name: s for s in states}


def test_a_member_stale_by_its_own_rule_is_offline_for_the_group() -> None:
    bank_engine = engine(member_stale_after=2.0)  # the group keeps its default 10 s
    by_name(bank_engine.update({"a": state("a", 0.0), "b": state("b", 0.0)}, now=0.0))
    out = by_name(bank_engine.update({"a": state("a", 0.0), "b": state("b", 5.0)}, now=5.0))
    assert out["a"].limits is not None and out["a"].limits.reason == "stale"
    bank = out["bank"]
    assert not bank.available
    assert bank.diagnostics["offline_members"] == ["a"]
    assert bank.limits is not None and bank.limits.reason == "stale"
    assert bank.limits.charge_current_a == bank.limits.discharge_current_a == 0


def test_a_group_with_no_member_left_keeps_its_values_at_0_a() -> None:
    bank_engine = engine(member_stale_after=10.0)
    first = by_name(bank_engine.update({"a": state("a", 0.0), "b": state("b", 0.0)}, now=0.0))
    assert first["bank"].available and first["bank"].sample is not None
    gone = {n: state(n, 0.0, available=False) for n in ("a", "b")}
    bank = by_name(bank_engine.update(gone, now=30.0))["bank"]
    assert not bank.available
    assert bank.sample == first["bank"].sample  # the last merged values, like a battery
    assert bank.limits is not None and bank.limits.reason == "stale"
    assert bank.limits.charge_current_a == bank.limits.discharge_current_a == 0
    assert bank.time_to_go_s is None
    assert bank.to_json()["available"] is False
