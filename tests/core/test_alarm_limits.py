"""BMS alarms → CCL / DCL 0 (per battery, in a group, through the config)."""

from dataclasses import replace

import pytest

from batmux.config import ConfigError, parse_config
from batmux.core.alarm_limits import ALARM_SIDES, blocking_alarm
from batmux.core.bank_config import GroupConfig, LimitsConfig
from batmux.core.group_limits import GroupLimitState, group_limits
from batmux.core.groups import merge_group
from batmux.core.limits import LimitState, battery_limits
from batmux.model.alarms import Alarm
from core.bank_factory import sample, state

CFG = LimitsConfig(max_charge_current=100.0, max_discharge_current=150.0)
A = Alarm

# alarm → (CCL, DCL) of a healthy 16S pack at 3.30 V / 25 °C with that alarm active
CASES = [
    (A.CELL_OVERVOLTAGE, 0, 150),
    (A.PACK_OVERVOLTAGE, 0, 150),
    (A.CHARGE_OVERCURRENT, 0, 150),
    (A.CHARGE_OVERTEMP, 0, 150),
    (A.CHARGE_UNDERTEMP, 0, 150),
    (A.CELL_UNDERVOLTAGE, 100, 0),
    (A.PACK_UNDERVOLTAGE, 100, 0),
    (A.DISCHARGE_OVERCURRENT, 100, 0),
    (A.DISCHARGE_OVERTEMP, 100, 0),
    (A.DISCHARGE_UNDERTEMP, 100, 0),
    (A.SHORT_CIRCUIT, 0, 0),
    (A.MOS_OVERTEMP, 0, 0),
    (A.SENSOR_FAULT, 0, 0),
    (A.BMS_FAULT, 0, 0),
    (A.CELL_IMBALANCE, 100, 150),
    (A.LOW_SOC, 100, 150),
]


def test_every_alarm_is_classified_once() -> None:
    assert set(ALARM_SIDES) == set(Alarm)
    assert sorted(a for a, *_ in CASES) == sorted(Alarm)


def limits_for(cfg: LimitsConfig, **kw: object) -> tuple[float, float, str]:
    result = battery_limits(cfg, sample(10.0, **kw), True, LimitState(), 10.0)
    return result.limits.charge_current_a, result.limits.discharge_current_a, result.limits.reason


@pytest.mark.parametrize(("alarm", "ccl", "dcl"), CASES)
def test_alarm_zeroes_its_side(alarm: Alarm, ccl: float, dcl: float) -> None:
    got_ccl, got_dcl, reason = limits_for(CFG, alarms=frozenset({alarm}))
    assert (got_ccl, got_dcl) == (ccl, dcl)
    charge_rule = f"alarm_{alarm.value}" if ccl == 0 else "configured"
    discharge_rule = f"alarm_{alarm.value}" if dcl == 0 else "configured"
    assert reason == f"charge:{charge_rule} discharge:{discharge_rule} cvl:bulk"


@pytest.mark.parametrize(("alarm", "ccl", "dcl"), CASES)
def test_warning_never_zeroes(alarm: Alarm, ccl: float, dcl: float) -> None:
    assert limits_for(CFG, warnings=frozenset({alarm}))[:2] == (100, 150)


def test_alarm_limits_off_leaves_the_tables() -> None:
    off = CFG.model_copy(update={"alarm_limits": False})
    alarms = frozenset({A.BMS_FAULT, A.CELL_OVERVOLTAGE})
    assert limits_for(off, alarms=alarms) == (
        100,
        150,
        "charge:configured discharge:configured cvl:bulk",
    )


def test_several_alarms_name_the_first_in_table_order() -> None:
    alarms = frozenset({A.BMS_FAULT, A.CHARGE_OVERTEMP, A.DISCHARGE_OVERCURRENT})
    assert blocking_alarm(alarms, charge=True) is A.CHARGE_OVERTEMP
    assert blocking_alarm(alarms, charge=False) is A.DISCHARGE_OVERCURRENT
    assert blocking_alarm(frozenset({A.LOW_SOC}), charge=False) is None


def test_alarm_named_even_when_the_bms_also_opened_its_switch() -> None:
    _, _, reason = limits_for(CFG, alarms=frozenset({A.CELL_OVERVOLTAGE}), charge_enabled=False)
    assert reason.startswith("charge:alarm_cell_overvoltage ")


def test_recovery_after_the_alarm_clears_goes_through_hold_and_ramp() -> None:
    st = LimitState()
    tripped = sample(0.0, alarms=frozenset({A.CHARGE_OVERCURRENT}))
    assert battery_limits(CFG, tripped, True, st, 0.0).limits.charge_current_a == 0
    seen = []
    for t in (5.0, 30.0, 36.0, 45.0, 60.0):  # clear at 5 s: hold to 35 s, then 5 A/s
        result = battery_limits(CFG, sample(t), True, st, t)
        seen.append((result.limits.charge_current_a, result.charge_rule))
    assert seen == [
        (0, "recovering"),
        (0, "recovering"),
        (5, "recovering"),
        (50, "recovering"),
        (100, "configured"),
    ]


PAR = GroupConfig(name="bank", members=["a", "b"])


def test_group_reason_names_member_and_alarm() -> None:
    states, results = {}, {}
    for name, alarms in (("a", frozenset()), ("b", frozenset({A.PACK_UNDERVOLTAGE}))):
        s = state(name, 10.0, alarms=alarms)
        results[name] = battery_limits(CFG, s.sample, True, LimitState(), 10.0)
        states[name] = replace(s, limits=results[name].limits)
    group = merge_group(PAR, states, 10.0)
    out = group_limits(PAR, LimitsConfig(), GroupLimitState(), group, states, results, 10.0)
    assert (out.limits.charge_current_a, out.limits.discharge_current_a) == (200, 0)
    assert out.limits.reason == (
        "charge:a:configured discharge:blocked_by_b:alarm_pack_undervoltage cvl:a:bulk"
    )
    assert group.members is not None and group.members.blocking_discharge == 1


BATTERY = {"name": "a", "type": "jk"}


def test_alarm_limits_key_per_battery_and_rejected_on_a_group() -> None:
    cfg = parse_config({"batteries": [{**BATTERY, "limits": {"alarm_limits": False}}]})
    assert cfg.batteries[0].limits is not None and cfg.batteries[0].limits.alarm_limits is False
    assert LimitsConfig().alarm_limits is True
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "batteries": [BATTERY],
                "groups": [{"name": "g", "members": ["a"], "limits": {"alarm_limits": False}}],
            }
        )
    assert info.value.field == "groups[0].limits"
    assert "per battery" in info.value.reason
    with pytest.raises(ConfigError) as info:
        parse_config({"batteries": [{**BATTERY, "limits": {"alarm_limits": "maybe"}}]})
    assert info.value.field == "batteries[0].limits.alarm_limits"
