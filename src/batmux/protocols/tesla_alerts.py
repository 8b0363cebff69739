"""Tesla Model 3/Y BMS alert matrix (0x320 BMS_alertMatrix, mux 0|4) → batmux alarms.

Bit positions are the DBC's (joshwardell/model3dbc ``BO_ 800``); each mux carries 60 alert bits
from bit 4. Only alerts that mean "the pack is outside its limits" or "the pack is not
supervised" become alarms; the rest (contactor-close blocked, a node MIA, log upload ...) are
listed in ``bms_alerts`` for diagnosis. 0x3AA (HVP_alertMatrix1) is not read: it is
multiplexed on later firmware and Battery-Emulator stopped trusting its fixed layout.
"""

from __future__ import annotations

from batmux.model.alarms import Alarm

ID_ALERTS = 0x320

# (mux, bit) → (name, alarms, warnings)
ALERTS: dict[tuple[int, int], tuple[str, tuple[Alarm, ...], tuple[Alarm, ...]]] = {
    (0, 10): ("a007_slowed_charge_cold", (), (Alarm.CHARGE_UNDERTEMP,)),
    (0, 20): ("a017_brick_ov", (Alarm.CELL_OVERVOLTAGE,), ()),
    (0, 21): ("a018_brick_uv", (Alarm.CELL_UNDERVOLTAGE,), ()),
    (0, 22): ("a019_module_ot", (Alarm.CHARGE_OVERTEMP, Alarm.DISCHARGE_OVERTEMP), ()),
    (0, 25): ("a022_over_current", (Alarm.CHARGE_OVERCURRENT, Alarm.DISCHARGE_OVERCURRENT), ()),
    (0, 26): ("a023_stack_ov", (Alarm.PACK_OVERVOLTAGE,), ()),
    (0, 37): ("a034_passive_isolation", (), ()),
    (0, 38): ("a035_isolation", (Alarm.BMS_FAULT,), ()),
    (0, 39): ("a036_hvp_hvil_fault", (), ()),
    (0, 53): ("a050_brick_voltage_mia", (Alarm.SENSOR_FAULT,), ()),
    (0, 62): ("a059_pack_voltage_sensing", (Alarm.SENSOR_FAULT,), ()),
    (1, 5): ("a062_brickv_imbalance", (Alarm.CELL_IMBALANCE,), ()),
    (1, 14): ("a071_transcon_not_met", (), ()),
    (1, 24): ("a081_ctr_close_blocked", (), ()),
    (1, 25): ("a082_ctr_force_open", (), ()),
    (1, 26): ("a083_ctr_close_failure", (), ()),
    (1, 32): ("a089_vcfront_mia", (), ()),
    (1, 33): ("a090_gateway_mia", (), ()),
    (1, 42): ("a099_bmb_communication", (Alarm.BMS_FAULT,), ()),
    (1, 48): ("a105_one_module_tsense", (Alarm.SENSOR_FAULT,), ()),
    (1, 49): ("a106_all_module_tsense", (Alarm.SENSOR_FAULT,), ()),
    (1, 50): ("a107_stack_voltage_mia", (Alarm.SENSOR_FAULT,), ()),
    (2, 6): ("a123_internal_isolation", (Alarm.BMS_FAULT,), ()),
    (2, 9): ("a126_thermistor_failure", (Alarm.SENSOR_FAULT,), ()),
    (2, 10): ("a127_shunt_sna", (Alarm.SENSOR_FAULT,), ()),
    (2, 11): ("a128_shunt_mia", (Alarm.SENSOR_FAULT,), ()),
    (2, 19): ("a136_module_ot_warning", (), (Alarm.CHARGE_OVERTEMP, Alarm.DISCHARGE_OVERTEMP)),
    (2, 20): ("a137_brick_uv_warning", (), (Alarm.CELL_UNDERVOLTAGE,)),
    (2, 21): ("a138_brick_ov_warning", (), (Alarm.CELL_OVERVOLTAGE,)),
    (2, 29): ("a146_brick_overdischarged", (Alarm.CELL_UNDERVOLTAGE,), ()),
    (2, 34): ("a151_external_isolation", (Alarm.BMS_FAULT,), ()),
    (2, 48): ("a165_pack_partial_weld", (Alarm.BMS_FAULT,), ()),
    (2, 49): ("a166_pack_full_weld", (Alarm.BMS_FAULT,), ()),
    (2, 53): ("a170_limp_mode", (), ()),
}
ISOLATION_ALERTS = frozenset(
    {"a035_isolation", "a123_internal_isolation", "a151_external_isolation"}
)
WELD_ALERTS = frozenset({"a165_pack_partial_weld", "a166_pack_full_weld"})


def active_alerts(frames_by_mux: dict[int, bytes]) -> list[str]:
    """Names of the active alerts of every mux seen, known ones by name, others as mNN_bBB."""
    names: list[str] = []
    for index in sorted(frames_by_mux):
        word = int.from_bytes(frames_by_mux[index], "little")
        for bit in range(4, 64):
            if word >> bit & 1:
                known = ALERTS.get((index, bit))
                names.append(known[0] if known else f"m{index}_b{bit}")
    return names


def alert_alarms(names: list[str]) -> tuple[frozenset[Alarm], frozenset[Alarm]]:
    """(alarms, warnings) of the named alerts."""
    by_name = {name: (alarms, warnings) for name, alarms, warnings in ALERTS.values()}
    alarms: set[Alarm] = set()
    warnings: set[Alarm] = set()
    for name in names:
        a, w = by_name.get(name, ((), ()))
        alarms.update(a)
        warnings.update(w)
    return frozenset(alarms), frozenset(warnings)


def encode_alerts(names: set[str]) -> dict[int, bytes]:
    """mux → 0x320 payload with the named alerts set (the simulator's side)."""
    words = {0: 0, 1: 1, 2: 2}
    for (index, bit), (name, _, _) in ALERTS.items():
        if name in names:
            words[index] |= 1 << bit
    return {index: word.to_bytes(8, "little") for index, word in words.items()}
