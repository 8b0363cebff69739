"""Which BMS alarms block charging, discharging or both.

A BMS alarm (level 2, ``BatterySample.alarms``) means the BMS has tripped or is about to, so the
limits go to 0 A in the direction the alarm is about, as dbus-serialbattery users expect. A
fault that leaves the pack unsupervised (short circuit, BMS or sensor fault, hot MOSFETs that
carry both directions) blocks both. Warnings (level 1) never block: the tables already taper
the current near the edges. Informational alarms (low SoC, cell imbalance) block nothing: the
cell-voltage tables and the ESS minimum SoC handle those.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from batmux.model.alarms import Alarm

# alarm → (blocks charge, blocks discharge); every Alarm member is listed (a test checks it).
ALARM_SIDES: dict[Alarm, tuple[bool, bool]] = {
    Alarm.CELL_OVERVOLTAGE: (True, False),
    Alarm.PACK_OVERVOLTAGE: (True, False),
    Alarm.CHARGE_OVERCURRENT: (True, False),
    Alarm.CHARGE_OVERTEMP: (True, False),
    Alarm.CHARGE_UNDERTEMP: (True, False),
    Alarm.CELL_UNDERVOLTAGE: (False, True),
    Alarm.PACK_UNDERVOLTAGE: (False, True),
    Alarm.DISCHARGE_OVERCURRENT: (False, True),
    Alarm.DISCHARGE_OVERTEMP: (False, True),
    Alarm.DISCHARGE_UNDERTEMP: (False, True),
    Alarm.SHORT_CIRCUIT: (True, True),
    Alarm.MOS_OVERTEMP: (True, True),
    Alarm.SENSOR_FAULT: (True, True),
    Alarm.BMS_FAULT: (True, True),
    Alarm.CELL_IMBALANCE: (False, False),
    Alarm.LOW_SOC: (False, False),
}


# the blocking alarms of each side, in the table's order: computed once, not per publish
_CHARGE_BLOCKERS = tuple(a for a, (charge, _) in ALARM_SIDES.items() if charge)
_DISCHARGE_BLOCKERS = tuple(a for a, (_, discharge) in ALARM_SIDES.items() if discharge)


def blocking_alarm(alarms: AbstractSet[Alarm], *, charge: bool) -> Alarm | None:
    """The first active alarm (in the table's order) that blocks this direction, or None."""
    if not alarms:  # the usual case: skip walking the table
        return None
    blockers = _CHARGE_BLOCKERS if charge else _DISCHARGE_BLOCKERS
    return next((alarm for alarm in blockers if alarm in alarms), None)


def alarm_rule(alarm: Alarm) -> str:
    """The rule name in ``limit_reason``: ``alarm_cell_overvoltage``."""
    return f"alarm_{alarm.value}"


def is_alarm_rule(rule: str) -> bool:
    """True for ``alarm_x`` and for a nested group's ``blocked_by_b:alarm_x``."""
    return rule.startswith("alarm_") or ":alarm_" in rule
