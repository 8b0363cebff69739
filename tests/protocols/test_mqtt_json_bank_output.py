"""The MQTT JSON output (dbus-mqtt-battery schema) of a bank the real bank engine merged."""

from __future__ import annotations

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.protocols.mqtt_json import build_payload
from core.bank_factory import published_without_cells


def _pack(name: str, cells: tuple[float, ...], balancing: int) -> BatteryState:
    sample = BatterySample(
        timestamp=0.0,
        voltage_v=round(sum(cells), 3),
        current_a=-10.0,
        soc_pct=50.0,
        charge_ah=50.0,
        capacity_ah=100.0,
        cell_voltages_v=cells,
        extra={"balancing_cells": balancing},
    )
    return BatteryState(name=name, available=True, sample=sample, last_good_at=0.0)


def _bank() -> BatteryState:
    cfg = parse_config(
        {
            "batteries": [{"name": "a", "type": "jk"}, {"name": "b", "type": "jk"}],
            "groups": [{"name": "bank", "members": ["a", "b"]}],
        }
    )
    members = {
        "a": _pack("a", (3.30, 3.31, 3.35, 3.30), 0b0100),
        "b": _pack("b", (3.30, 3.28, 3.30, 3.30), 0b0000),
    }
    return next(s for s in BankEngine(cfg).update(members, now=0.0) if s.name == "bank")


def test_bank_output_has_pack_ids_pack_size_and_pack_sum() -> None:
    p = build_payload(_bank())
    assert p["System"]["MinVoltageCellId"] == "b:2"
    assert p["System"]["MaxVoltageCellId"] == "a:3"
    assert p["System"]["NrOfCellsPerBattery"] == 4
    assert p["Voltages"]["Sum"] == 13.22  # mean of the pack sums 13.26 and 13.18


def test_output_time_to_go_is_the_engines_value() -> None:
    bank = _bank()
    assert bank.time_to_go_s == 18000  # 100 Ah remaining / 20 A
    assert build_payload(bank)["TimeToGo"] == 18000


def test_output_has_balances_when_the_bms_reports_per_cell_balancing() -> None:
    """Issue #6 lists ``Balances`` in the schema; a single pack with a per-cell bitmask."""
    pack = _pack("a", (3.30, 3.31, 3.35, 3.30), 0b0100)
    assert build_payload(pack)["Balances"] == {"Cell1": 0, "Cell2": 0, "Cell3": 1, "Cell4": 0}


def test_no_cell_data_sends_no_zero_volt_cvl() -> None:
    published = published_without_cells()
    assert build_payload(published)["Info"] == {"MaxChargeCurrent": 0.0, "MaxDischargeCurrent": 0.0}
