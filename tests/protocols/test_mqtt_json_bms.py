"""A BMS's own values arriving as dbus-mqtt-battery JSON: its limits cap batmux's, and what it
sends itself (TimeToGo, System.*, cell temperatures, History.*, Balances) is published as sent.
Also: no payload, however odd, raises anything but the codec's error (issue 11, items 4 and 10).
"""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.config import parse_config
from batmux.core.bank import BankEngine
from batmux.core.bank_config import LimitsConfig
from batmux.core.limits import LimitState, battery_limits
from batmux.devices.mqtt_json_source import MqttJsonSource
from batmux.errors import ProtocolError
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.protocols.can_codec import decode_candump_frames
from batmux.protocols.candump import format_frame
from batmux.protocols.mqtt_json import (
    MqttJsonError,
    build_payload,
    parse_batmux_state,
    parse_battery_payload,
)
from batmux.sinks.venus_config import VenusConfig
from batmux.sinks.venus_paths import build_paths
from protocols.can_vectors import frames, load
from protocols.test_mqtt_json import FUZZ

CELLS = {f"Cell{n}": 3.30 + n / 1000 for n in range(1, 17)}  # 16s LFP at rest, 52.9 V
BMS_JSON = {
    "Dc": {"Power": -520.0, "Voltage": 52.0, "Temperature": 21.0},
    "Soc": 60,
    "InstalledCapacity": 280,
    "TimeToGo": 7200,
    "Info": {
        "MaxChargeVoltage": 54.0,
        "MaxChargeCurrent": 30,
        "MaxDischargeCurrent": 40,
        "BatteryLowVoltage": 47.0,
    },
    "System": {
        "MinVoltageCellId": "C1",
        "MaxVoltageCellId": "C16",
        "MinCellTemperature": 18.5,
        "MaxCellTemperature": 24.0,
        "MinTemperatureCellId": "T2",
        "MaxTemperatureCellId": "T4",
    },
    "History": {"ChargeCycles": 41, "TotalAhDrawn": 1057.3, "MinimumVoltage": 40.8},
    "Voltages": CELLS,
    "Balances": {"Cell3": 1, "Cell16": 1, "Cell9": 0},
}


def _engine_state(payload: dict, battery: dict | None = None) -> BatteryState:
    cfg = parse_config(
        {"batteries": [{"name": "nr", "type": "mqtt_json", "topic": "t", **(battery or {})}]}
    )
    sample = parse_battery_payload(json.dumps(payload), 100.0)
    state = BatteryState("nr", True, sample, last_good_at=100.0)
    [out] = BankEngine(cfg).update({"nr": state}, now=100.0)
    return out


def test_info_limits_cap_batmux_limits() -> None:
    """The issue's case: a BMS saying 30 A / 40 A / 54.0 V was published as 50 / 60 / 55.2."""
    state = _engine_state(BMS_JSON)
    limits = state.limits
    assert limits is not None
    assert (limits.charge_current_a, limits.discharge_current_a) == (30.0, 40.0)
    assert limits.charge_voltage_v == 54.0  # 16 × 3.45 = 55.2 without the BMS
    assert limits.discharge_voltage_v == 47.0  # higher than 16 × 2.9 = 46.4: the BMS wins
    assert limits.reason == "charge:bms discharge:bms cvl:bms"
    out = state.to_json()
    assert (out["charge_current_limit"], out["discharge_current_limit"]) == (30.0, 40.0)
    assert out["charge_voltage_limit"] == 54.0
    info = build_payload(state)["Info"]
    assert info == {"MaxChargeVoltage": 54.0, "MaxChargeCurrent": 30.0,
                    "MaxDischargeCurrent": 40.0, "BatteryLowVoltage": 47.0}  # fmt: skip


def test_batmux_limits_still_apply_when_lower_than_the_bms() -> None:
    state = _engine_state(
        BMS_JSON,
        {
            "limits": {
                "max_charge_current": 20,
                "cell_voltage_max": 3.35,
                "cell_voltage_float": 3.35,
            }
        },
    )
    assert state.limits is not None
    assert state.limits.charge_current_a == 20.0  # configured is lower than the BMS's 30
    assert state.limits.charge_voltage_v == pytest.approx(16 * 3.35)  # 53.6 < 54.0
    assert state.limits.discharge_current_a == 40.0


def test_info_only_battery_without_cells_is_a_bms_for_venus() -> None:
    payload = {"Dc": {"Power": 0, "Voltage": 52.0}, "Soc": 70,
               "Info": {"MaxChargeVoltage": 55.0, "MaxChargeCurrent": 80,
                        "MaxDischargeCurrent": 100}}  # fmt: skip
    state = _engine_state(payload)
    assert state.limits is not None and state.limits.charge_voltage_v == 55.0
    assert (state.limits.charge_current_a, state.limits.discharge_current_a) == (50.0, 60.0)
    paths = build_paths(state, VenusConfig(battery="nr"), is_bms=True)
    assert paths["/Info/MaxChargeVoltage"] == 55.0  # present: DVCC takes it as a BMS
    assert paths["/Info/MaxChargeCurrent"] == 50.0  # the configured default is lower than 80


def test_own_values_are_kept_as_sent() -> None:
    state = _engine_state(BMS_JSON)
    s = state.sample
    assert s is not None
    assert state.time_to_go_s == 7200  # the JSON's TimeToGo, not batmux's estimate
    assert s.temperatures_c == (21.0, 18.5, 24.0)  # the coldest/hottest cell reach the limits
    p = build_payload(state)
    assert p["TimeToGo"] == 7200
    assert p["Dc"]["Temperature"] == 21.0  # as sent
    system = p["System"]
    assert (system["MinVoltageCellId"], system["MaxVoltageCellId"]) == ("C1", "C16")
    assert (system["MinCellTemperature"], system["MaxCellTemperature"]) == (18.5, 24.0)
    assert (system["MinTemperatureCellId"], system["MaxTemperatureCellId"]) == ("T2", "T4")
    assert p["History"]["TotalAhDrawn"] == 1057.3 and p["History"]["MinimumVoltage"] == 40.8
    assert p["History"]["ChargeCycles"] == 41
    assert p["Balances"]["Cell3"] == 1 and p["Balances"]["Cell16"] == 1
    assert sum(p["Balances"].values()) == 2
    paths = build_paths(state, VenusConfig(battery="nr"), is_bms=True)
    assert paths["/TimeToGo"] == 7200 and paths["/Balances/Cell3"] == 1
    assert paths["/System/MinVoltageCellId"] == "C1"


def test_system_extremes_without_cells_are_kept() -> None:
    payload = {"Dc": {"Power": 0, "Voltage": 52.0}, "Soc": 70,
               "System": {"MinCellVoltage": 3.21, "MaxCellVoltage": 3.35}}  # fmt: skip
    s = parse_battery_payload(json.dumps(payload), 0.0)
    assert (s.extra["cell_min"], s.extra["cell_max"]) == (3.21, 3.35)
    p = build_payload(BatteryState("nr", True, s))
    assert (p["System"]["MinCellVoltage"], p["System"]["MaxCellVoltage"]) == (3.21, 3.35)


@pytest.mark.parametrize(
    ("vector", "protocol", "max_a", "ccl", "dcl", "cvl", "dvl"),
    [
        # real captures (shared/vectors/can): US5000 says 480 A both ways, 53.2 V / 45.0 V
        ("pylontech_lv_us5000_v1_2_capture", "pylontech_can", 600, 480.0, 480.0, 53.2, 45.0),
        # BYD HVS: 25.6 A both ways, 233.6 V / 160.0 V
        ("byd_hvs_can_sunshadecorp", "byd_can", None, 25.6, 25.6, 233.6, 160.0),
    ],
)
def test_can_bms_limits_cap_too(vector, protocol, max_a, ccl, dcl, cvl, dvl) -> None:
    frames_ = [format_frame(i, d) for i, d in frames(load(vector))]
    sample = decode_candump_frames(protocol, frames_)
    cfg = LimitsConfig(max_charge_current=max_a, max_discharge_current=max_a)
    r = battery_limits(cfg, sample, True, LimitState(), 0.0)
    assert (r.limits.charge_current_a, r.limits.discharge_current_a) == (ccl, dcl)
    assert (r.limits.charge_voltage_v, r.limits.discharge_voltage_v) == (cvl, dvl)
    assert r.charge_rule == r.discharge_rule == r.voltage_rule == "bms"


# -- item 10: one bad message never kills the source ---------------------------------------
HUGE = "9" * 400


async def test_400_digit_retained_payload_then_20_valid() -> None:
    source = MqttJsonSource("nr", "mqtt://127.0.0.1:1", "x")
    source.start = lambda: None  # type: ignore[method-assign]  # fed directly, no broker
    source.on_message(f'{{"Dc": {{"Power": {HUGE}, "Voltage": 48}}, "Soc": 70}}'.encode())
    assert source.health.corrupt_frames == 1
    assert "400 digits" in source.health.last_error
    accepted = 0
    for i in range(20):
        source.on_message(json.dumps({"Dc": {"Power": 48 * i, "Voltage": 48}, "Soc": 70}))
        accepted += (await source.sample()).current_a == i
    assert accepted == 20


@pytest.mark.parametrize(
    "payload",
    [
        f'{{"Dc": {{"Power": 1, "Voltage": 48}}, "Soc": {HUGE}}}',
        '{"Dc": {"Power": 1, "Voltage": 48}, "Soc": 5, "Info": {"MaxChargeCurrent": ' + HUGE + "}}",
        f'{{"Dc": {{"Power": 1, "Voltage": 48}}, "Soc": 5, "Alarms": {{"LowSoc": {HUGE}}}}}',
        '{"Dc": {"Power": 1, "Voltage": 48}, "Soc": 5, "Balances": {"Cell1' + "0" * 50 + '": 1}}',
        '{"Dc": {"Power": 1, "Voltage": 48}, "Soc": 5, "System": {"MinVoltageCellId": 3}}',
        "[" * 100_000,
    ],
)
def test_odd_payloads_are_codec_errors(payload: str) -> None:
    with contextlib.suppress(MqttJsonError):
        parse_battery_payload(payload, 0.0)
        return  # parsed (e.g. an out-of-range Balances key is ignored)
    with pytest.raises(MqttJsonError):
        parse_battery_payload(payload, 0.0)


def test_remote_state_with_huge_integer_is_a_codec_error() -> None:
    with pytest.raises(MqttJsonError):
        parse_batmux_state(f'{{"voltage": 52, "total_charged_kwh": {HUGE}}}', 0.0)
    with pytest.raises(MqttJsonError):
        parse_batmux_state(f'{{"voltage": {HUGE}}}', 0.0)


def test_remote_state_with_a_null_cell_is_a_codec_error_and_null_probes_are_left_out() -> None:
    # found by the fuzz test: a null cell reached the cell statistics and raised TypeError there
    with pytest.raises(MqttJsonError, match=r"cell_voltages: null in place of cell 2"):
        parse_batmux_state('{"voltage": 6.5, "cell_voltages": [3.2, null]}', 0.0)
    state = parse_batmux_state('{"voltage": 6.5, "temperatures": [21.5, null, 22]}', 0.0)
    assert state.sample.temperatures_c == (21.5, 22)


NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**600), max_value=10**600),
    st.floats(),
)
KEYS = st.sampled_from(["Dc", "0", "Power", "Voltage", "Current", "Temperature", "Soc",
                        "InstalledCapacity", "Capacity", "ConsumedAmphours", "TimeToGo",
                        "Voltages", "Cell1", "Cell2", "Cell0", "Cell999", "Alarms", "LowSoc",
                        "Io", "AllowToCharge", "System", "MinVoltageCellId", "MinCellVoltage",
                        "MinCellTemperature", "Balances", "History", "TotalAhDrawn",
                        "ChargeCycles", "Info", "MaxChargeCurrent", "MaxChargeVoltage",
                        "value", "available", "cell_voltages", "alarms", "voltage",
                        "timestamp", "extra_key"])  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=6),
    lambda inner: (
        st.dictionaries(KEYS | st.text(max_size=4), inner, max_size=6) | st.lists(inner, max_size=3)
    ),
    max_leaves=30,
)


def _dumps(value: object) -> str:
    return json.dumps(value)  # NaN/Infinity and 600-digit integers written as Python does


@FUZZ
@given(JSONISH.map(_dumps))
def test_fuzz_jsonish_only_the_codec_error_escapes(payload: str) -> None:
    """Arbitrary JSON-ish payloads (huge integers, NaN, nesting) through both parsers and the
    source: only ``MqttJsonError`` may escape a parser, and the source survives all of them."""
    for parse in (parse_battery_payload, parse_batmux_state):
        try:
            sample = parse(payload, 0.0)
        except MqttJsonError:
            continue
        s = sample if isinstance(sample, BatterySample) else sample.sample
        json.dumps(BatteryState("x", True, s).to_json(), allow_nan=False)
        build_payload(BatteryState("x", True, s))
    for kind in ("mqtt_json", "batmux_remote"):
        source = MqttJsonSource("x", "mqtt://127.0.0.1:1", "t", kind=kind)
        source.on_message(payload.encode())
        assert source.health.corrupt_frames + (source.latest is not None) == 1


def test_protocol_error_is_the_codec_error() -> None:
    assert issubclass(MqttJsonError, ProtocolError)
