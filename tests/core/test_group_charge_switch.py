"""The charge-switch algorithm on a group: the group's SoC decides, controllable members act."""

from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from core.bank_factory import state


def config(tmp_path: Path) -> object:
    return parse_config(
        {
            "state_dir": str(tmp_path),
            "batteries": [
                {"name": "a", "type": "jk", "allow_control": True},
                {"name": "b", "type": "jk"},  # no allow_control: never switched
                {"name": "c", "type": "jk", "allow_control": True},
            ],
            "groups": [
                {"name": "pair", "members": ["b", "c"]},
                {
                    "name": "bank",
                    "members": ["a", "pair"],
                    "charge_switch": {"stop_soc": 90, "start_soc": 80, "calibration_days": 0},
                },
            ],
        }
    )


# (SoC of a, b, c; charge switch of a, c) → wishes; the bank's SoC is the capacity-weighted mean
STEPS = [
    ((85, 85, 85), (True, True), {}),
    ((99, 84, 84), (True, True), {}),  # a alone above 90 %: the bank (89 %) decides, not a
    ((92, 91, 91), (True, True), {"a": False, "c": False}),  # bank enters ≥ 90 %
    ((92, 91, 91), (False, False), {}),  # acts only on entering the zone
    ((85, 85, 85), (False, False), {}),
    ((80, 79, 79), (False, True), {"a": True}),  # c was switched on by hand: only a
    ((80, 79, 79), (True, True), {}),
    ((95, 95, 95), (True, False), {"a": False}),  # c already off
]


def test_group_wish_goes_to_controllable_members_only(tmp_path: Path) -> None:
    engine = BankEngine(config(tmp_path))
    for i, ((soc_a, soc_b, soc_c), (on_a, on_c), wishes) in enumerate(STEPS):
        t = 5.0 * i
        states = {
            "a": state("a", t, soc_pct=soc_a, charge_enabled=on_a),
            "b": state("b", t, soc_pct=soc_b),
            "c": state("c", t, soc_pct=soc_c, charge_enabled=on_c),
        }
        out = {s.name: s for s in engine.update(states, now=t)}
        assert engine.switch_actions == wishes, i
        assert engine.switch_origin == dict.fromkeys(wishes, "bank"), i
    bank = out["bank"]
    assert bank.diagnostics["charge_switch_members"] == ["a", "c"]
    assert bank.diagnostics["charge_switch_left_alone"] == ["b"]
    assert "bank" in engine.state_json()["charge_switch"]


def test_stale_group_makes_no_wish(tmp_path: Path) -> None:
    engine = BankEngine(config(tmp_path))
    old = {n: state(n, 0.0, soc_pct=95.0) for n in "abc"}
    engine.update(old, now=100.0)  # every member 100 s old
    assert engine.switch_actions == {}


@pytest.mark.parametrize("owner", ["a", "c"])
def test_a_member_with_its_own_charge_switch_is_rejected(owner: str) -> None:
    from batmux.errors import ConfigError

    batteries = [{"name": n, "type": "jk"} for n in "abc"]
    batteries["ac".index(owner) * 2]["charge_switch"] = {"stop_soc": 90}
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "batteries": batteries,
                "groups": [
                    {"name": "pair", "members": ["b", "c"]},
                    {"name": "bank", "members": ["a", "pair"], "charge_switch": {"stop_soc": 90}},
                ],
            }
        )
    assert info.value.field == "groups[1].charge_switch"
    assert f"member '{owner}' already follows the charge_switch of battery '{owner}'" in str(
        info.value
    )
