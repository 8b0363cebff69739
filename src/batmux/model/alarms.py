"""Normalized alarm names every protocol maps its own bits onto."""

from __future__ import annotations

from enum import StrEnum


class Alarm(StrEnum):
    """One alarm condition; a sample holds the set that is active (level 2 = alarm)."""

    CELL_OVERVOLTAGE = "cell_overvoltage"
    CELL_UNDERVOLTAGE = "cell_undervoltage"
    PACK_OVERVOLTAGE = "pack_overvoltage"
    PACK_UNDERVOLTAGE = "pack_undervoltage"
    CHARGE_OVERCURRENT = "charge_overcurrent"
    DISCHARGE_OVERCURRENT = "discharge_overcurrent"
    SHORT_CIRCUIT = "short_circuit"
    CHARGE_OVERTEMP = "charge_overtemperature"
    CHARGE_UNDERTEMP = "charge_undertemperature"
    DISCHARGE_OVERTEMP = "discharge_overtemperature"
    DISCHARGE_UNDERTEMP = "discharge_undertemperature"
    MOS_OVERTEMP = "mos_overtemperature"
    CELL_IMBALANCE = "cell_imbalance"
    LOW_SOC = "low_soc"
    SENSOR_FAULT = "sensor_fault"
    BMS_FAULT = "bms_fault"
