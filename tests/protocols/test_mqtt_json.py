"""dbus-mqtt-battery JSON and batmux state JSON: derived values, bad input, round trips."""

from __future__ import annotations

import contextlib
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batmux.devices.mqtt_json_source import MqttJsonSource
from batmux.errors import NoData, ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, MemberCounts, Meters
from batmux.protocols.mqtt_json import (
    MqttJsonError,
    build_payload,
    parse_batmux_state,
    parse_battery_payload,
)

EXAMPLES = 10_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 200
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def test_minimum_payload_derives_current_and_ah() -> None:
    payload = {"Dc": {"Power": -520.3, "Voltage": 52.03}, "Soc": 62, "InstalledCapacity": 280}
    s = parse_battery_payload(json.dumps(payload), 10.0)
    assert s.voltage_v == 52.03 and s.power_w == -520.3
    assert s.current_a == -10.0  # P / V, rounded to 3 decimals
    assert s.soc_pct == 62 and s.capacity_ah == 280
    assert s.charge_ah == 173.6  # 280 × 62 %
    assert s.extra["consumed_ah"] == 106.4  # 280 × 38 %
    # no TimeToGo sent: the bank engine estimates it (core.time_to_go), one rule for all
    assert "time_to_go_s" not in s.extra


def test_only_power_voltage_soc() -> None:
    s = parse_battery_payload(b'{"Dc": {"Power": 100, "Voltage": 25}, "Soc": 50}', 0.0)
    assert s.current_a == 4.0
    assert s.charge_ah is None and "consumed_ah" not in s.extra  # no capacity to derive from
    zero = parse_battery_payload(b'{"Dc": {"Power": 100, "Voltage": 0}, "Soc": 50}', 0.0)
    assert zero.current_a == 0.0


def test_consumed_and_capacity_from_each_other() -> None:
    base = {"Dc": {"0": {"Power": 260, "Voltage": 52}}, "Soc": 80, "InstalledCapacity": 100}
    a = parse_battery_payload(json.dumps({**base, "Capacity": 70}), 0.0)
    assert a.extra["consumed_ah"] == 30 and a.charge_ah == 70
    b = parse_battery_payload(json.dumps({**base, "ConsumedAmphours": 25}), 0.0)
    assert b.charge_ah == 75
    assert b.current_a == 5.0  # Dc nested under "0"
    c = parse_battery_payload(json.dumps({**base, "ConsumedAmphours": -25}), 0.0)
    assert c.charge_ah == 75  # Victron's negative convention accepted by magnitude


def test_full_payload_and_cells() -> None:
    payload = {
        "Dc": {"Power": 52.1, "Voltage": 52.1, "Current": 1.0, "Temperature": 21.5},
        "Soc": 90, "Soh": 98, "TimeToGo": 1200,
        "Info": {"MaxChargeVoltage": 55.2, "MaxChargeCurrent": 100, "MaxDischargeCurrent": 150},
        "Alarms": {"LowVoltage": 0, "HighCellVoltage": 1, "HighTemperature": 2},
        "System": {"MOSTemperature": 30},
        "Voltages": {"Cell1": 3.25, "Cell2": 3.31, "Cell10": 3.2, "Sum": 9.76, "Diff": 0.11},
        "Balances": {"Cell1": 0, "Cell2": 1},
        "Io": {"AllowToCharge": 1, "AllowToDischarge": 0},
        "History": {"ChargeCycles": 12},
    }  # fmt: skip
    s = parse_battery_payload(json.dumps(payload), 0.0)
    assert s.current_a == 1.0 and s.temperatures_c == (21.5,) and s.soh_pct == 98
    assert s.cell_voltages_v == (3.25, 3.31, 3.2)  # Cell10 after Cell2
    assert s.min_cell_v == 3.2 and s.max_cell_v == 3.31
    assert s.extra["time_to_go_s"] == 1200 and s.extra["charge_voltage_limit"] == 55.2
    assert s.extra["balancing_cells"] == 0b10  # Balances.Cell2
    assert s.alarms == {Alarm.DISCHARGE_OVERTEMP} and s.warnings == {Alarm.CELL_OVERVOLTAGE}
    assert s.balancing is True and s.charge_enabled is True and s.discharge_enabled is False
    assert s.mos_temperature_c == 30 and s.cycles == 12


def test_value_wrapper() -> None:
    inner = json.dumps({"Dc": {"Power": 10, "Voltage": 10}, "Soc": 1})
    assert parse_battery_payload(json.dumps({"value": inner}), 0.0).current_a == 1.0


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b'{"Dc": {"Power": 1}, "Soc": 5}',  # no voltage
        b'{"Dc": {"Power": "12", "Voltage": 12}, "Soc": 5}',  # string number
        b'{"Dc": {"Power": 1, "Voltage": true}, "Soc": 5}',  # bool
        b'{"Dc": [1], "Soc": 5}',
        b'{"Dc": {"Power": 1, "Voltage": 12}, "Soc": 5, "Voltages": {"Cell1": "x"}}',
        b'{"Dc": {"Power": 1, "Voltage": 12}, "Soc": NaN}',
    ],
)
def test_malformed_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(MqttJsonError):
        parse_battery_payload(payload, 0.0)


async def test_source_counts_bad_payloads_and_keeps_last_good() -> None:
    now = [100.0]
    source = MqttJsonSource("nr", "mqtt://127.0.0.1:1", "x", clock=lambda: now[0])
    source.start = lambda: None  # type: ignore[method-assign]  # no broker in this unit test
    with pytest.raises(NoData):
        await source.sample()
    source.on_message(b'{"Dc": {"Power": 120, "Voltage": 24}, "Soc": 70}')
    source.on_message(b"{broken")
    source.on_message(b'{"Dc": {"Power": "x", "Voltage": 24}, "Soc": 70}')
    assert source.health.corrupt_frames == 2
    assert (await source.sample()).current_a == 5.0
    now[0] += 61
    with pytest.raises(NoData):
        await source.sample()


def make_state() -> BatteryState:
    sample = BatterySample(
        timestamp=1000.0, voltage_v=52.4, current_a=-12.5, soc_pct=64.0, charge_ah=179.2,
        capacity_ah=280.0, cycles=17, cell_voltages_v=(3.27, 3.28, 3.26, 3.29),
        temperatures_c=(20.0, 23.5), mos_temperature_c=28.0, charge_enabled=True,
        discharge_enabled=True, balancing=False, soh_pct=99.0,
        alarms=frozenset({Alarm.CELL_IMBALANCE}), warnings=frozenset({Alarm.LOW_SOC}),
    )  # fmt: skip
    return BatteryState(
        name="bank", available=True, sample=sample,
        meters=Meters(charged_kwh=12.5, discharged_kwh=10.25, cycles=3.5),
        limits=ChargeLimits(55.2, 100.0, 150.0, 48.0, "ok"),
        members=MemberCounts(online=2), is_group=True,
    )  # fmt: skip


def test_build_payload_schema_and_round_trip() -> None:
    state = make_state()
    p = build_payload(state)
    # Dc.Temperature: the median of the probes, as /Dc/0/Temperature (model.cells)
    assert p["Dc"] == {"Power": -655.0, "Voltage": 52.4, "Current": -12.5, "Temperature": 21.8}
    assert p["Soc"] == 64.0 and p["InstalledCapacity"] == 280.0 and p["Capacity"] == 179.2
    assert p["ConsumedAmphours"] == 100.8
    assert p["Info"] == {"MaxChargeVoltage": 55.2, "MaxChargeCurrent": 100.0,
                         "MaxDischargeCurrent": 150.0, "BatteryLowVoltage": 48.0}  # fmt: skip
    assert p["Alarms"]["CellImbalance"] == 2 and p["Alarms"]["LowSoc"] == 1
    assert p["Alarms"]["HighVoltage"] == 0
    assert p["System"]["MinVoltageCellId"] == "C3" and p["System"]["MaxVoltageCellId"] == "C4"
    assert p["System"]["NrOfModulesOnline"] == 2
    assert p["Voltages"]["Cell4"] == 3.29 and p["Voltages"]["Diff"] == 0.03
    assert p["Io"] == {"AllowToCharge": 1, "AllowToDischarge": 1}
    assert p["History"] == {"ChargedEnergy": 12.5, "DischargedEnergy": 10.25, "ChargeCycles": 17}
    back = parse_battery_payload(json.dumps(p), 0.0)
    s = state.sample
    assert s is not None
    for name in ("voltage_v", "current_a", "power_w", "soc_pct", "charge_ah", "capacity_ah",
                 "cycles", "cell_voltages_v", "mos_temperature_c", "charge_enabled",
                 "discharge_enabled", "balancing", "soh_pct", "alarms", "warnings"):  # fmt: skip
        assert getattr(back, name) == getattr(s, name), name
    assert build_payload(BatteryState("x", False, None)) == {}


def test_batmux_state_round_trip() -> None:
    state = make_state()
    remote = parse_batmux_state(json.dumps(state.to_json()), 5.0)
    assert remote.available is True
    s, orig = remote.sample, state.sample
    assert orig is not None
    assert s.timestamp == 1000.0
    assert (s.voltage_v, s.current_a, s.soc_pct, s.charge_ah) == (52.4, -12.5, 64.0, 179.2)
    assert s.cell_voltages_v == orig.cell_voltages_v and s.temperatures_c == (20.0, 23.5)
    assert s.alarms == orig.alarms and s.warnings == orig.warnings
    assert s.extra["charge_voltage_limit"] == 55.2 and s.extra["total_charged_kwh"] == 12.5
    off = parse_batmux_state(b'{"available": false, "total_charged_kwh": 1}', 7.0)
    assert off.available is False and off.sample.timestamp == 7.0
    for bad in (b'{"available": "yes"}', b'{"cell_voltages": 3}', b'{"alarms": [1]}',
                b'{"charge_enabled": 1}', b'{"voltage": "52"}'):  # fmt: skip
        with pytest.raises(MqttJsonError):
            parse_batmux_state(bad, 0.0)


# -- fuzz ----------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(["Dc", "0", "Power", "Voltage", "Current", "Soc", "InstalledCapacity",
                        "Capacity", "ConsumedAmphours", "Voltages", "Cell1", "Alarms", "LowSoc",
                        "Io", "System", "Balances", "History", "value", "available",
                        "cell_voltages", "alarms", "voltage", "timestamp"])  # fmt: skip
SCHEMA_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.dictionaries(KEYS, inner, max_size=6) | st.lists(inner, max_size=3),
    max_leaves=25,
)


@pytest.mark.fuzz
@FUZZ
@given(st.one_of(st.binary(max_size=200), JSON_VALUES.map(json.dumps), SCHEMA_LIKE.map(json.dumps)))
def test_fuzz_parsers_raise_only_protocol_error(payload: bytes | str) -> None:
    for parse in (parse_battery_payload, parse_batmux_state):
        with contextlib.suppress(ProtocolError):
            parse(payload, 0.0)
