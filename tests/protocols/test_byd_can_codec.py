"""BYD CAN builders and decoders against the captured/derived vectors (exact bytes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import ProtocolError
from batmux.model.limits import ChargeLimits
from batmux.protocols import byd_can
from batmux.protocols.can_codec import decode_candump_frames
from batmux.protocols.candump import format_frame
from batmux.protocols.inverter_limits import STALE
from ble_contract import decode_or_error
from protocols.can_vectors import by_id, frames, load, state

HVS = load("byd_hvs_can_sunshadecorp")
GOODWE = load("byd_can_inverter_frames_goodwe")
SUNGROW_190 = load("byd_can_0x190_counter_sungrow")
SMA = load("sma_byd_hvs_static_frames")
E = HVS["expected"]


def test_encoders_give_the_vector_bytes() -> None:
    raw = by_id(HVS)
    lim, s, i, t = E["0x110"], E["0x150"], E["0x1D0"], E["0x210"]
    assert (
        byd_can.encode_limits(
            {
                "charge_voltage_limit": lim["max_charge_voltage_V"],
                "discharge_voltage_limit": lim["min_discharge_voltage_V"],
                "discharge_current_limit": lim["max_discharge_current_A"],
                "charge_current_limit": lim["max_charge_current_A"],
            }
        )
        == raw[0x110]
    )
    assert (
        byd_can.encode_states(
            {
                "soc": s["soc_pct"],
                "soh": s["soh_pct"],
                "charge": s["remaining_capacity_Ah"],
                "capacity": s["full_capacity_Ah"],
            }
        )
        == raw[0x150]
    )
    assert (
        byd_can.encode_info(
            {
                "voltage": i["voltage_V"],
                "current": i["current_A"],
                "temperature": i["temperature_C"],
            }
        )
        == raw[0x1D0]
    )
    assert (
        byd_can.encode_temps(
            {
                "max_temperature": t["max_cell_temp_C"],
                "min_temperature": t["min_cell_temp_C"],
            }
        )
        == raw[0x210]
    )
    assert raw[0x190] == byd_can.ALARM_STATIC


def hvs_state(**overrides: object) -> object:
    limits = ChargeLimits(233.6, 25.6, 25.6, 160.0)
    values = dict(
        voltage_v=212.1,
        current_a=0.0,
        soc_pct=97.4,
        soh_pct=100.0,
        charge_ah=24.3,
        capacity_ah=25.0,
        temperatures_c=(17.0, 19.0),
    )
    values.update(overrides)
    return state(limits, **values), limits


def test_state_builder_matches_vector() -> None:
    st_, limits = hvs_state()
    built = byd_can.build_periodic(st_, limits)
    raw = by_id(HVS)
    for can_id in (0x110, 0x150, 0x190, 0x1D0):  # 0x1D0: average of 17 and 19 °C = 18.0
        assert built[can_id] == raw[can_id], hex(can_id)
    assert built[0x210] == byd_can.encode_temps({"max_temperature": 19.0, "min_temperature": 17.0})
    assert set(built) == {int(k, 16) for k in E["periods_s"]}


def test_init_burst_matches_vector_exactly() -> None:
    st_, _ = hvs_state()
    opts = byd_can.BydCanOptions(byd_can.BydIdentity(capacity_kwh=5.1))
    expected = [(i, d) for i, d in frames(HVS) if i in (0x250, 0x290, 0x2D0, 0x3D0)]
    assert byd_can.build_init_burst(st_, opts) == expected
    assert len([i for i, _ in expected if i == 0x3D0]) == 4


def test_capacity_from_sample_when_not_configured() -> None:
    st_, _ = hvs_state(capacity_ah=25.0, voltage_v=204.0)  # 5.1 kWh
    assert byd_can.build_init_burst(st_)[0][1] == by_id(HVS)[0x250]


def test_decode_hvs_as_a_source() -> None:
    args = [format_frame(i, d) for i, d in frames(HVS)]
    sample = decode_candump_frames("byd_can", args, timestamp=5.0)
    assert sample.voltage_v == 212.1 and sample.current_a == 0.0
    assert sample.soc_pct == 97.4 and sample.soh_pct == 100.0
    assert sample.charge_ah == 24.3 and sample.capacity_ah == 25.0
    assert sample.temperatures_c == (18.0, 19.0)
    x = sample.extra
    assert x["charge_voltage_limit"] == 233.6 and x["discharge_voltage_limit"] == 160.0
    assert x["charge_current_limit"] == 25.6 and x["discharge_current_limit"] == 25.6
    assert x["temperature_avg"] == 18.0
    assert x["firmware"] == "3.16" and x["capacity_kwh"] == 5.1
    assert x["manufacturer"] == "BYD"
    assert x["model"] == E["0x3D0"]["text_concatenated"]


def test_inverter_frames_parsed() -> None:
    request = byd_can.parse_inverter_frame(*frames(HVS, "inverter->battery")[0])
    assert request is not None and request.identification_request
    name, unknown = frames(GOODWE, None)
    parsed = byd_can.parse_inverter_frame(*name)
    assert parsed is not None and not parsed.identification_request
    assert parsed.name == GOODWE["expected"]["0x151"]["inverter_name_ascii_bytes1_7"]
    assert byd_can.parse_inverter_frame(*unknown) == byd_can.InverterFrame(0x191)
    assert byd_can.parse_inverter_frame(0x110, b"") is None
    with pytest.raises(ProtocolError):
        byd_can.parse_inverter_frame(0x151, b"")


def test_inverter_encoders_roundtrip() -> None:
    m = byd_can.parse_inverter_frame(0x091, byd_can.encode_inverter_measure(212.3, -5.5, 21.0))
    assert m is not None and dict(m.values) == {
        "voltage": 212.3,
        "current": -5.5,
        "temperature": 21.0,
    }
    s = byd_can.parse_inverter_frame(0x0D1, byd_can.encode_inverter_soc(55.5))
    assert s is not None and s.values["soc"] == 55.5
    assert byd_can.encode_request(identify=False, name="GOODWE") == frames(GOODWE, None)[0][1]


def test_0x190_real_frames_are_accepted_by_the_source_codec() -> None:
    codec = byd_can.BydCanCodec()
    got = [codec.feed(f) for f in frames(SUNGROW_190, None)]
    assert all(len(g) == 1 for g in got)
    assert [f[1][-1] for f in frames(SUNGROW_190, None)] == [0x0F, 0x10, 0x11]
    info = byd_can.encode_info({"voltage": 300.0})
    sample = codec.decode([*got[-1], *codec.feed((0x1D0, info))])
    assert sample.extra["alarm_frame"] == "0000001500000011"  # kept raw: meaning unknown
    assert codec.corrupt_frames == 0


def test_sma_dialect_vectors() -> None:
    raw = by_id(SMA)
    ex = SMA["expected"]
    d = byd_can.SMA_BYD_HVS
    limits = ChargeLimits(467.2, 25.6, 25.6, 320.0)
    st_ = state(
        limits,
        voltage_v=419.4,
        current_a=0.0,
        soc_pct=10.3,
        soh_pct=100.0,
        charge_ah=2.5,
        capacity_ah=25.0,
        temperatures_c=(12.0,),
    )
    built = byd_can.build_periodic(st_, limits, byd_can.BydCanOptions(dialect=d))
    assert built[d.limits] == raw[0x358]
    assert built[d.states] == raw[0x3D8]
    info = byd_can.encode_info(
        {"voltage": 419.4, "current": 0.0, "temperature": 12.0, "state": ex["0x4D8"]["state_byte6"]}
    )
    assert info == raw[0x4D8]
    assert byd_can.encode_temps({"max_temperature": 15.0, "min_temperature": 12.0}) == raw[0x518]
    sample = decode_candump_frames("sma_byd_hvs", [format_frame(i, b) for i, b in raw.items()])
    assert sample.voltage_v == ex["0x4D8"]["voltage_V"]
    assert (
        sample.soc_pct == ex["0x3D8"]["soc_pct"] and sample.charge_ah == ex["0x3D8"]["remaining_Ah"]
    )
    assert sample.extra["bms_state"] == 2
    assert sample.temperatures_c == (12.0, 15.0)
    assert sample.extra["charge_voltage_limit"] == ex["0x358"]["max_voltage_V"]


def test_deye_workaround_and_fallbacks() -> None:
    st_, _ = hvs_state(soc_pct=50.0)
    deye = byd_can.BydCanOptions(deye_workaround=True)
    no_charge = ChargeLimits(233.6, 0.0, 25.6, 160.0, reason="cell_high")
    no_discharge = ChargeLimits(233.6, 25.6, 0.0, 160.0, reason="cell_low")
    assert byd_can.state_values(st_, no_charge, deye)["soc"] == 100.0
    assert byd_can.state_values(st_, no_discharge, deye)["soc"] == 0.0
    assert byd_can.state_values(st_, no_charge, byd_can.BydCanOptions())["soc"] == 50.0
    stale = ChargeLimits(233.6, 0.0, 0.0, 160.0, reason=STALE)
    window = byd_can.state_values(st_, stale, byd_can.BydCanOptions(fallback="soc_window"))
    assert window["soc"] == 100.0
    assert window["charge_voltage_limit"] == window["discharge_voltage_limit"] == 212.1
    standby = byd_can.build_periodic(st_, stale, byd_can.BydCanOptions(fallback="standby"))
    assert standby[0x1D0][6] == byd_can.STATE_STOP
    assert standby[0x110][4:] == bytes(4)  # 0 A both ways


def test_values_clamped_to_field_range() -> None:
    st_, _ = hvs_state(current_a=-5000.0)
    huge = ChargeLimits(9999.0, 8000.0, 8000.0, 100.0)
    built = byd_can.build_periodic(st_, huge)
    assert built[0x110][6:8] == b"\xff\xff"  # u16 max, not wrapped
    assert built[0x110][4:6] == b"\x7f\xff"
    assert built[0x1D0][2:4] == b"\x80\x00"


def test_malformed_and_unknown_frames_counted() -> None:
    codec = byd_can.BydCanCodec()
    assert codec.feed("110#0920") == []  # too short
    assert codec.feed("not a frame") == []
    assert codec.feed(b"\x00\x01") == []  # packed form too short
    assert codec.feed("7FF#00") == []  # unknown id
    assert codec.feed((0x151, b"\x01")) == []  # the inverter's own frame: not the battery's
    assert codec.corrupt_frames == 3 and codec.unknown_frames == 2
    with pytest.raises(ProtocolError):
        codec.decode([])


@pytest.mark.fuzz
@given(st.integers(0, 0x7FF), st.binary(max_size=12))
def test_fuzz_feed_decode(can_id: int, data: bytes) -> None:
    codec = byd_can.BydCanCodec()
    decode_or_error(codec, codec.feed((can_id, data)))
