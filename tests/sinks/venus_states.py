"""States the Venus tests share: a two-pack parallel bank, and the same bank with a high cell."""

from __future__ import annotations

import dataclasses

from batmux.core.time_to_go import time_to_go_s
from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, MemberCounts, Meters
from batmux.sinks.venus_paths import version

CELLS = (3.301, 3.305, 3.298, 3.310, 3.302, 3.304, 3.299, 3.303) * 2  # 2 × 8S, concatenated


def bank_state(timestamp: float = 1_700_000_000.0) -> BatteryState:
    sample = BatterySample(
        timestamp=timestamp,
        voltage_v=26.42,
        current_a=-12.5,
        soc_pct=64.0,
        charge_ah=128.0,
        capacity_ah=200.0,
        cycles=42.0,
        cell_voltages_v=CELLS,
        temperatures_c=(21.0, 23.0, 22.0, 22.0),
        mos_temperature_c=30.5,
        charge_enabled=True,
        discharge_enabled=True,
        balancing=False,
        soh_pct=98.0,
        warnings=frozenset({Alarm.CELL_IMBALANCE}),
        extra={"min_cell_id": "b:3", "max_cell_id": "a:4", "cells_in_series": 8},
    )
    return BatteryState(
        name="bank",
        available=True,
        sample=sample,
        meters=Meters(charged_kwh=123.4567, discharged_kwh=120.1234, cycles=40.0),
        limits=ChargeLimits(28.4, 100.0, 150.0, discharge_voltage_v=24.0, reason="ok"),
        members=MemberCounts(online=2, offline=0, blocking_charge=0, blocking_discharge=0),
        is_group=True,
        last_good_at=timestamp,
        time_to_go_s=time_to_go_s(sample),  # as the bank engine fills it in
    )


def high_cell_state() -> BatteryState:
    """Cell 4 of pack a at 3.60 V: the bank's CVL drops and charging is blocked."""
    base = bank_state()
    assert base.sample is not None
    cells = list(CELLS)
    cells[3] = 3.600
    sample = base.sample.with_(
        cell_voltages_v=tuple(cells), alarms=frozenset({Alarm.CELL_OVERVOLTAGE})
    )
    return dataclasses.replace(
        base,
        sample=sample,
        limits=ChargeLimits(27.8, 0.0, 150.0, discharge_voltage_v=24.0, reason="cell_high"),
        members=MemberCounts(online=2, offline=0, blocking_charge=1, blocking_discharge=0),
    )


def stale(state: BatteryState) -> BatteryState:
    limits = ChargeLimits(28.4, 0.0, 0.0, reason="stale")
    return dataclasses.replace(state, available=False, limits=limits)


# What build_paths gives for bank_state() with VenusConfig(battery='bank'), is_bms=True.
GOLDEN_BANK = {
    "/Mgmt/ProcessName": "batmux",
    "/Mgmt/ProcessVersion": version(),
    "/Mgmt/Connection": "batmux group bank",
    "/DeviceInstance": 100,
    "/ProductId": 0xFFFF,
    "/ProductName": "batmux",
    "/FirmwareVersion": version(),
    "/HardwareVersion": None,
    "/Connected": 1,
    "/CustomName": "bank",
    "/Serial": "batmux-bank",
    "/Dc/0/Voltage": 26.42,
    "/Dc/0/Current": -12.5,
    "/Dc/0/Power": -330.2,
    "/Dc/0/Temperature": 22.0,
    "/Soc": 64.0,
    "/Soh": 98.0,
    "/Capacity": 128.0,
    "/InstalledCapacity": 200.0,
    "/ConsumedAmphours": -72.0,
    "/TimeToGo": 36864,  # 128 Ah / 12.5 A = 10.24 h
    "/Info/MaxChargeVoltage": 28.4,
    "/Info/MaxChargeCurrent": 100.0,
    "/Info/MaxDischargeCurrent": 150.0,
    "/Info/BatteryLowVoltage": 24.0,
    "/Info/ChargeRequest": 0,
    "/Io/AllowToCharge": 1,
    "/Io/AllowToDischarge": 1,
    "/Io/AllowToBalance": 0,
    "/System/MinCellVoltage": 3.298,
    "/System/MaxCellVoltage": 3.31,
    "/System/MinVoltageCellId": "b:3",
    "/System/MaxVoltageCellId": "a:4",
    "/System/MinCellTemperature": 21.0,
    "/System/MaxCellTemperature": 23.0,
    "/System/MOSTemperature": 30.5,
    "/System/NrOfCellsPerBattery": 8,
    "/System/NrOfModulesOnline": 2,
    "/System/NrOfModulesOffline": 0,
    "/System/NrOfModulesBlockingCharge": 0,
    "/System/NrOfModulesBlockingDischarge": 0,
    # One pack's worth: cell k is the mean of cell k of packs a and b (model.cells.series_cells).
    **{f"/Voltages/Cell{i}": v for i, v in enumerate(CELLS[:8], start=1)},
    "/Voltages/Sum": 26.422,  # the mean of the two pack sums
    "/Voltages/Diff": 0.012,
    **{f"/Balances/Cell{i}": None for i in range(1, 9)},
    "/Balancing": 0,
    "/Alarms/LowVoltage": 0,
    "/Alarms/HighVoltage": 0,
    "/Alarms/LowCellVoltage": 0,
    "/Alarms/HighCellVoltage": 0,
    "/Alarms/LowSoc": 0,
    "/Alarms/StateOfHealth": 0,
    "/Alarms/HighChargeCurrent": 0,
    "/Alarms/HighDischargeCurrent": 0,
    "/Alarms/HighCurrent": 0,
    "/Alarms/CellImbalance": 1,  # a warning
    "/Alarms/InternalFailure": 0,
    "/Alarms/HighChargeTemperature": 0,
    "/Alarms/LowChargeTemperature": 0,
    "/Alarms/HighTemperature": 0,
    "/Alarms/LowTemperature": 0,
    "/Alarms/BmsCable": 0,
    "/Alarms/HighInternalTemperature": 0,
    "/Alarms/FuseBlown": 0,
    "/ErrorCode": None,  # no error: the GUI hides the row
    "/State": 9,  # running
    "/History/ChargeCycles": 42.0,
    "/History/ChargedEnergy": 123.457,
    "/History/DischargedEnergy": 120.123,
}

# The /History/* paths the service adds after it has seen bank_state() once.
GOLDEN_HISTORY = {
    "/History/MinimumVoltage": 26.42,
    "/History/MaximumVoltage": 26.42,
    "/History/MinimumCellVoltage": 3.298,
    "/History/MaximumCellVoltage": 3.31,
    "/History/MinimumTemperature": 21.0,
    "/History/MaximumTemperature": 23.0,
    "/History/DeepestDischarge": -72.0,
    "/History/LastDischarge": -72.0,
    "/History/AverageDischarge": None,  # no discharge closed by a full charge yet
    "/History/TotalAhDrawn": 0.0,  # one sample: no time has passed
    "/History/FullDischarges": 0,
    "/History/AutomaticSyncs": 0,
    "/History/LowVoltageAlarms": 0,
    "/History/HighVoltageAlarms": 0,
    "/History/TimeSinceLastFullCharge": None,  # never full
}

# Every path of the service after one bank_state().
GOLDEN_SERVICE = {**GOLDEN_BANK, **GOLDEN_HISTORY}
