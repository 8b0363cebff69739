"""Golden tests of the pure Venus path builder."""

from __future__ import annotations

import dataclasses

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.protocols.mqtt_json import build_payload
from batmux.sinks.venus_config import VenusConfig
from batmux.sinks.venus_paths import build_paths, text
from core.bank_factory import published_without_cells
from sinks.venus_states import GOLDEN_BANK, bank_state, high_cell_state, stale

CFG = VenusConfig(battery="bank", device_instance=100)


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


def test_time_to_go_is_the_engines_value_in_json_and_on_the_bus() -> None:
    cfg = parse_config({"batteries": [{"name": "bank", "type": "jk"}]})
    engine = BankEngine(cfg)
    (published,) = engine.update({"bank": bank_state(0.0)}, now=0.0)
    assert published.to_json()["time_to_go"] == 36864  # 128 Ah / 12.5 A
    assert build_paths(published, CFG, is_bms=True)["/TimeToGo"] == 36864
    assert published.sample is not None
    charging = dataclasses.replace(published, sample=published.sample.with_(current_a=5.0))
    (charging,) = engine.update({"bank": charging}, now=1.0)
    assert build_paths(charging, CFG, is_bms=True)["/TimeToGo"] is None


def test_parallel_bank_from_the_engine_keeps_pack_ids_and_pack_size() -> None:
    """Issue #6 /System/*CellId, /System/NrOfCellsPerBattery and /Voltages/Sum for a bank the
    real bank engine merged (not a hand-made state): 2 × 4S in parallel."""
    cfg = parse_config(
        {
            "batteries": [{"name": "a", "type": "jk"}, {"name": "b", "type": "jk"}],
            "groups": [{"name": "bank", "members": ["a", "b"]}],
        }
    )
    engine = BankEngine(cfg)
    members = {
        "a": BatteryState(
            name="a",
            available=True,
            sample=BatterySample(timestamp=0.0, cell_voltages_v=(3.30, 3.31, 3.35, 3.30)),
            last_good_at=0.0,
        ),
        "b": BatteryState(
            name="b",
            available=True,
            sample=BatterySample(timestamp=0.0, cell_voltages_v=(3.30, 3.28, 3.30, 3.30)),
            last_good_at=0.0,
        ),
    }
    bank = next(s for s in engine.update(members, now=0.0) if s.name == "bank")
    paths = build_paths(bank, CFG, is_bms=True)
    assert paths["/System/MinVoltageCellId"] == "b:2"
    assert paths["/System/MaxVoltageCellId"] == "a:3"
    assert paths["/System/NrOfCellsPerBattery"] == 4
    assert paths["/Voltages/Sum"] == 13.22  # mean of the pack sums 13.26 and 13.18
    assert paths["/System/NrOfModulesOnline"] == 2
    # One series string's worth of cells, each the mean over the packs at that position; no
    # /Voltages/Cell5..8 for NrOfCellsPerBattery 4. The extremes stay the real ones.
    cells = {p: v for p, v in paths.items() if p.startswith("/Voltages/Cell")}
    assert cells == {
        "/Voltages/Cell1": 3.3,
        "/Voltages/Cell2": 3.295,
        "/Voltages/Cell3": 3.325,
        "/Voltages/Cell4": 3.3,
    }
    assert round(sum(cells.values()), 3) == paths["/Voltages/Sum"]
    assert paths["/System/MinCellVoltage"] == 3.28 and paths["/System/MaxCellVoltage"] == 3.35
    assert paths["/Voltages/Diff"] == 0.07
    assert [p for p in paths if p.startswith("/Balances/")] == [
        f"/Balances/Cell{i}" for i in range(1, 5)
    ]
    # The dbus-mqtt-battery JSON output shows the same cells and count.
    payload = build_payload(bank)
    assert payload["System"]["NrOfCellsPerBattery"] == 4
    assert {
        f"/Voltages/{k}": v for k, v in payload["Voltages"].items() if k.startswith("Cell")
    } == (cells)


def test_one_temperature_rule_on_dbus_and_in_the_json_output() -> None:
    """/Dc/0/Temperature and Dc.Temperature are the same number: the median of the battery's
    probes (not the MOSFET sensor); an open NTC at -40 °C does not drag it down."""
    base = bank_state()
    assert base.sample is not None
    for probes, expected in (
        ((21.0, 23.0, 22.0, 22.0), 22.0),
        ((20.0, 23.5), 21.8),
        ((24.0, 25.0, -40.0), 24.0),
        ((), None),
    ):
        sample = base.sample.with_(temperatures_c=probes, mos_temperature_c=55.0)
        state = dataclasses.replace(base, sample=sample)
        dbus = build_paths(state, CFG, is_bms=True)["/Dc/0/Temperature"]
        json_out = build_payload(state)["Dc"].get("Temperature")
        assert dbus == json_out == expected, probes


def _with(state: BatteryState, **changes: object) -> BatteryState:
    assert state.sample is not None
    return dataclasses.replace(state, sample=state.sample.with_(**changes))


def test_state_error_code_and_balancing() -> None:
    """/State as dbus-serialbattery (9 running, 10 error, 14 standby); /ErrorCode a Victron BMS
    error number (veutil ve_regs_payload.h) or None; /Balancing 1 while any cell balances."""
    fresh = build_paths(bank_state(), CFG, is_bms=True)
    assert (fresh["/State"], fresh["/ErrorCode"], fresh["/Balancing"]) == (9, None, 0)

    lost = build_paths(stale(bank_state()), CFG, is_bms=True)
    assert (lost["/State"], lost["/ErrorCode"]) == (10, 32)  # BMS cable error

    high = build_paths(high_cell_state(), CFG, is_bms=True)  # cell OV alarm, discharge allowed
    assert (high["/State"], high["/ErrorCode"]) == (9, 13)

    fault = build_paths(_with(bank_state(), alarms=frozenset({Alarm.BMS_FAULT})), CFG, True)
    assert (fault["/State"], fault["/ErrorCode"]) == (10, 11)

    off = _with(bank_state(), charge_enabled=False, discharge_enabled=False)
    assert build_paths(off, CFG, is_bms=True)["/State"] == 14  # standby: both FETs off

    pack = _with(
        bank_state(), balancing=None, extra={"balancing_cells": 0b100, "cells_in_series": 8}
    )
    paths = build_paths(pack, CFG, is_bms=True)
    assert paths["/Balancing"] == 1 and paths["/Balances/Cell3"] == 1
    assert paths["/Balances/Cell1"] == 0
    unknown = build_paths(_with(bank_state(), balancing=None), CFG, is_bms=True)
    assert unknown["/Balancing"] is None


def test_battery_without_cell_data_has_no_zero_volt_cvl() -> None:
    """The engine gives CVL 0.0 (reason no_cell_data) for a pack without cells, e.g. an
    mqtt_json feed: the service must show it unknown, not 0 V, and still 0 A both ways."""
    published = published_without_cells()
    assert published.limits is not None and published.limits.charge_voltage_v == 0.0
    paths = build_paths(published, VenusConfig(battery="feed"), is_bms=True)
    assert paths["/Info/MaxChargeVoltage"] is None
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    assert paths["/Info/MaxDischargeCurrent"] == 0.0


def test_alarm_levels_alarm_wins_over_warning() -> None:
    """Level 2 when any source alarm is raised, else 1 for a source warning, else 0; only
    alarms give an /ErrorCode. (The builder tests sets, and skips them when both are empty.)"""
    quiet = _with(bank_state(), alarms=frozenset(), warnings=frozenset())
    clear = build_paths(quiet, CFG, is_bms=True)
    assert {p: v for p, v in clear.items() if p.startswith("/Alarms/")} == dict.fromkeys(
        (p for p in clear if p.startswith("/Alarms/")), 0
    )
    warned = build_paths(
        _with(
            bank_state(),
            alarms=frozenset({Alarm.CELL_OVERVOLTAGE}),
            warnings=frozenset({Alarm.CELL_OVERVOLTAGE, Alarm.LOW_SOC, Alarm.CHARGE_OVERTEMP}),
        ),
        CFG,
        True,
    )
    raised = {p: v for p, v in warned.items() if p.startswith("/Alarms/") and v}
    assert raised == {
        "/Alarms/HighCellVoltage": 2,  # alarm and warning: the alarm wins
        "/Alarms/LowSoc": 1,
        "/Alarms/HighChargeTemperature": 1,
        "/Alarms/HighTemperature": 1,  # charge over-temperature is one of its sources
    }
    assert warned["/ErrorCode"] == 13
    only_warned = _with(bank_state(), warnings=frozenset({Alarm.CELL_OVERVOLTAGE}))
    paths = build_paths(only_warned, CFG, True)
    assert (paths["/Alarms/HighCellVoltage"], paths["/ErrorCode"]) == (1, None)
