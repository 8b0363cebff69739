"""Golden tests of the pure Venus path builder."""

from __future__ import annotations

import dataclasses

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
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


def test_battery_without_cell_data_has_no_zero_volt_cvl() -> None:
    """The engine gives CVL 0.0 (reason no_cell_data) for a pack without cells, e.g. an
    mqtt_json feed: the service must show it unknown, not 0 V, and still 0 A both ways."""
    published = published_without_cells()
    assert published.limits is not None and published.limits.charge_voltage_v == 0.0
    paths = build_paths(published, VenusConfig(battery="feed"), is_bms=True)
    assert paths["/Info/MaxChargeVoltage"] is None
    assert paths["/Info/MaxChargeCurrent"] == 0.0
    assert paths["/Info/MaxDischargeCurrent"] == 0.0
