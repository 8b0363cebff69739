"""Golden tests of the pure Venus path builder."""

from __future__ import annotations

import dataclasses

from venus_states import CELLS, bank_state, high_cell_state, stale

from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.sinks.venus_config import VenusConfig
from batmux.sinks.venus_paths import build_paths, text, version

CFG = VenusConfig(battery="bank", device_instance=100)

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
    **{f"/Voltages/Cell{i}": v for i, v in enumerate(CELLS, start=1)},
    "/Voltages/Sum": 26.422,  # the mean of the two pack sums
    "/Voltages/Diff": 0.012,
    **{f"/Balances/Cell{i}": None for i in range(1, 17)},
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
    "/History/ChargeCycles": 42.0,
    "/History/ChargedEnergy": 123.457,
    "/History/DischargedEnergy": 120.123,
}


def test_bank_golden() -> None:
    paths = build_paths(bank_state(), CFG, is_bms=True)
    assert paths == GOLDEN_BANK
    # Types matter on the bus (int32 vs double vs string), not only values.
    for path, value in GOLDEN_BANK.items():
        assert type(paths[path]) is type(value), path


def test_not_bms_has_no_info_paths() -> None:
    paths = build_paths(bank_state(), CFG, is_bms=False)
    assert not [p for p in paths if p.startswith("/Info/")]
    assert paths["/Soc"] == 64.0


def test_high_cell_blocks_charge_with_zero_amps() -> None:
    paths = build_paths(high_cell_state(), CFG, is_bms=True)
    assert paths["/Info/MaxChargeVoltage"] == 27.8
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    assert paths["/Info/MaxDischargeCurrent"] == 150.0
    assert paths["/Io/AllowToCharge"] == 0
    assert paths["/Alarms/HighCellVoltage"] == 2
    assert paths["/System/MaxCellVoltage"] == 3.6
    assert paths["/System/NrOfModulesBlockingCharge"] == 1


def test_stale_is_disconnected_with_zero_amps() -> None:
    paths = build_paths(stale(bank_state()), CFG, is_bms=True)
    assert paths["/Connected"] == 0
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    assert paths["/Info/MaxDischargeCurrent"] == 0.0
    assert paths["/Io/AllowToCharge"] == 0
    assert paths["/Io/AllowToDischarge"] == 0
    assert paths["/Alarms/BmsCable"] == 2


def test_stale_limits_zero_even_if_limits_say_otherwise() -> None:
    state = dataclasses.replace(bank_state(), available=False)
    paths = build_paths(state, CFG, is_bms=True)
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    assert paths["/Info/MaxDischargeCurrent"] == 0.0


def test_single_battery_counts_and_unknowns() -> None:
    sample = BatterySample(
        timestamp=1.0,
        voltage_v=13.3,
        current_a=2.0,
        soc_pct=50.0,
        cell_voltages_v=(3.32, 3.33, 3.31, 3.34),
    )
    state = BatteryState(name="van", available=True, sample=sample)
    cfg = VenusConfig(battery="van", device_instance=101, custom_name="Van LFP", serial="X1")
    paths = build_paths(state, cfg, is_bms=True)
    assert paths["/CustomName"] == "Van LFP"
    assert paths["/Serial"] == "X1"
    assert paths["/DeviceInstance"] == 101
    assert paths["/System/MinVoltageCellId"] == "C3"
    assert paths["/System/MaxVoltageCellId"] == "C4"
    assert paths["/System/NrOfCellsPerBattery"] == 4
    assert paths["/Voltages/Sum"] == 13.3
    # No limits computed: no CVL (so DVCC does not treat it as a BMS) and 0 A.
    assert paths["/Info/MaxChargeVoltage"] is None
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    # Unknown stays unknown.
    for path in ("/Soh", "/Capacity", "/ConsumedAmphours", "/TimeToGo", "/Dc/0/Temperature"):
        assert paths[path] is None, path
    assert paths["/System/NrOfModulesOnline"] == 1
    assert paths["/System/NrOfModulesBlockingCharge"] == 1  # 0 A ⇒ blocking


def test_text() -> None:
    assert text("/Dc/0/Voltage", 26.42) == "26.42V"
    assert text("/ProductId", 0xFFFF) == "0xFFFF"
    assert text("/Soc", None) == "---"
    assert text("/Voltages/Cell3", 3.298) == "3.298V"
