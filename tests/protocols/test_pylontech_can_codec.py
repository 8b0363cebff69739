"""Pylontech LV CAN builders and decoders against the real US5000 capture and the reference set."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.core.plausibility import check_plausible
from batmux.errors import ImplausibleSample, ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.state import MemberCounts
from batmux.protocols import pylontech_can as pylon
from batmux.protocols.can_codec import decode_candump_frames
from batmux.protocols.candump import format_frame
from batmux.protocols.inverter_limits import STALE
from batmux.protocols.pylontech_can_encode import (
    PylontechCanOptions,
    build_frames,
    encode_alarms,
    encode_flags,
)
from protocols.can_vectors import by_id, frames, load, state

US5000 = load("pylontech_lv_us5000_v1_2_capture")
REFERENCE = load("pylontech_lv_reference_example")


def build_for(
    vector: dict, soc: float, soh: float, voltage: float, current: float, temp: float, modules: int
) -> dict[int, bytes]:
    e = vector["expected"]["0x351"]
    limits = ChargeLimits(
        e["charge_voltage_V"],
        e["charge_current_limit_A"],
        e["discharge_current_limit_A"],
        e["discharge_voltage_V"],
    )
    st_ = state(
        limits,
        voltage_v=voltage,
        current_a=current,
        soc_pct=soc,
        soh_pct=soh,
        temperatures_c=(temp,),
    )
    return dict(build_frames(st_, limits, PylontechCanOptions(module_count=modules)))


def test_us5000_capture_exact_bytes() -> None:
    built = build_for(US5000, 88, 94, 49.86, -27.0, 36.3, 6)
    assert built == by_id(US5000)
    assert list(built) == [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E]


def test_reference_example_exact_bytes() -> None:
    assert build_for(REFERENCE, 26, 100, 49.42, 77.0, 128.4, 10) == by_id(REFERENCE)


@pytest.mark.parametrize("vector", [US5000, REFERENCE], ids=["us5000", "reference"])
def test_decode_as_source(vector: dict) -> None:
    e = vector["expected"]
    sample = decode_candump_frames("pylontech_can", [format_frame(i, d) for i, d in frames(vector)])
    assert sample.voltage_v == e["0x356"]["voltage_V"]
    assert sample.current_a == e["0x356"]["current_A"]
    assert sample.temperatures_c == (e["0x356"]["temperature_C"],)
    assert sample.soc_pct == e["0x355"]["soc_pct"] and sample.soh_pct == e["0x355"]["soh_pct"]
    assert sample.extra["charge_voltage_limit"] == e["0x351"]["charge_voltage_V"]
    assert sample.extra["charge_current_limit"] == e["0x351"]["charge_current_limit_A"]
    assert sample.extra["discharge_current_limit"] == e["0x351"]["discharge_current_limit_A"]
    assert sample.extra["discharge_voltage_limit"] == e["0x351"]["discharge_voltage_V"]
    assert sample.extra["module_count"] == e["0x359"]["module_count"]
    assert sample.extra["manufacturer"] == "PYLON"
    assert sample.alarms == frozenset() and sample.warnings == frozenset()
    assert sample.charge_enabled is True and sample.discharge_enabled is True


def test_us5000_flags_decoded() -> None:
    e = US5000["expected"]["0x35C"]
    sample = decode_candump_frames("pylontech_can", [format_frame(i, d) for i, d in frames(US5000)])
    assert sample.charge_enabled == e["charge_enable"]
    assert sample.extra["force_charge"] == (e["force_charge_1"] or e["force_charge_2"])
    assert sample.extra["full_charge_request"] == e["full_charge_request"]


def v13_frames(**kw: object) -> dict[int, bytes]:
    limits = ChargeLimits(53.2, 100.0, 100.0, 45.0)
    st_ = state(
        limits,
        voltage_v=52.0,
        current_a=10.0,
        soc_pct=88.25,
        soh_pct=99.0,
        temperatures_c=(20.0, 22.0),
        capacity_ah=572.0,
        alarms=frozenset({Alarm.CELL_OVERVOLTAGE}),
        warnings=frozenset({Alarm.CHARGE_UNDERTEMP}),
        **kw,
    )
    opts = PylontechCanOptions(variant="v1.3", software_version=0xAA)
    return dict(build_frames(st_, limits, opts))


def test_v13_variant() -> None:
    built = v13_frames()
    assert list(built) == [0x351, 0x355, 0x356, 0x35A, 0x35E, 0x35F]  # no 0x359/0x35C in v1.3
    assert len(built[0x355]) == 6 and built[0x355] == bytes.fromhex(
        "5800 6300 7922".replace(" ", "")
    )
    # the real v1.3 frame 4C 49 01 03 3C 02 AA 00: "LI", hw 1.3, 572 Ah, sw 170
    assert built[0x35F] == bytes.fromhex("4C4901033C02AA00")
    sample = decode_candump_frames("pylontech_can", [format_frame(i, d) for i, d in built.items()])
    assert sample.soc_pct == 88.25
    assert sample.capacity_ah == 572
    assert sample.extra["chemistry"] == "LI" and sample.extra["hardware_version"] == "1.3"
    assert sample.alarms == {Alarm.PACK_OVERVOLTAGE}
    assert sample.warnings == {Alarm.CHARGE_UNDERTEMP}
    assert sample.temperatures_c == (21.0,)


# A healthy BYD LVS talking to a Victron GX (dfch/BydCanProtocol README): every pair 0b10 = OK.
BYD_LVS_OK = "35A#AAAAAAAAAAAAAAAA"
BYD_LVS_356 = "356#BE14F9FF8C000000"  # 53.10 V, -0.7 A, 14.0 °C


def test_35a_two_bit_items() -> None:
    ok = encode_alarms(frozenset(), frozenset())
    # 0b10 = OK for every supported item, 00 (not supported) for the contactor (9) and 13-15
    assert ok == bytes.fromhex("AAAAA202") * 2
    high_v = encode_alarms(frozenset({Alarm.PACK_OVERVOLTAGE}), frozenset())
    assert high_v[0] == 0b10_10_01_01  # general + high-voltage active (0b01), the rest OK
    assert high_v[4] == 0xAA  # no warning
    all_zero = pylon.PylontechCanCodec()  # new Pylontech firmware sends 0x35A all zeros
    frames_ = all_zero.feed("35A#0000000000000000") + all_zero.feed("356#7A13F2FE6B01")
    assert all_zero.decode(frames_).alarms == frozenset()


def test_35a_real_all_ok_frame_is_no_alarm() -> None:
    """Issue #10: AA×8 from a real BYD LVS read as 11 alarms and forced CCL = DCL = 0."""
    codec = pylon.PylontechCanCodec()
    frames_ = codec.feed(BYD_LVS_OK) + codec.feed(BYD_LVS_356)
    sample = codec.decode(frames_)
    assert sample.alarms == frozenset() and sample.warnings == frozenset()
    assert sample.voltage_v == 53.1 and sample.current_a == -0.7


@pytest.mark.parametrize(
    ("frame", "alarms", "warnings"),
    [  # single pairs of the real frame set to 0b01, as dfch's table lists them
        ("9AAAAAAAAAAAAAAA", {Alarm.PACK_UNDERVOLTAGE}, set()),  # byte 0 '10': low V alarm
        ("AAAAAAAAA6AAAAAA", set(), {Alarm.PACK_OVERVOLTAGE}),  # byte 4 '04': high V warning
        ("AAAA6AAAAAAAAAAA", {Alarm.BMS_FAULT}, set()),  # byte 2 '40': internal failure
        ("AA6AAAAAAAAAAAAA", {Alarm.DISCHARGE_OVERCURRENT}, set()),  # byte 1 '40'
    ],
)
def test_35a_single_active_pair(frame: str, alarms: set[Alarm], warnings: set[Alarm]) -> None:
    codec = pylon.PylontechCanCodec()
    sample = codec.decode(codec.feed(f"35A#{frame}") + codec.feed(BYD_LVS_356))
    assert sample.alarms == alarms and sample.warnings == warnings


def test_35a_encoder_agrees_with_opendtu_reader() -> None:
    """OpenDTU-OnBattery's Pytes decoder: alarm = the low bit of each pair (bits 0/2/4/6)."""
    frame = encode_alarms(frozenset({Alarm.PACK_UNDERVOLTAGE}), frozenset({Alarm.CELL_IMBALANCE}))
    low_bits = [[(b >> bit) & 1 for bit in (0, 2, 4, 6)] for b in frame]
    assert low_bits[0] == [1, 0, 1, 0]  # general alarm + under-voltage (bit 4)
    assert low_bits[4] == [1, 0, 0, 0] and low_bits[7] == [1, 0, 0, 0]  # general + imbalance
    assert sum(map(sum, low_bits)) == 4


def test_byd_lvs_eight_byte_355_keeps_the_soc() -> None:
    """BYD LVS: 0x355 is 8 bytes with zeros where the 0.01 % SoC would be → SoC 67 %, not 0."""
    codec = pylon.PylontechCanCodec()
    sample = codec.decode(codec.feed("355#4300640000000000") + codec.feed(BYD_LVS_356))
    assert sample.soc_pct == 67 and sample.soh_pct == 100
    hires = pylon.PylontechCanCodec()  # a real 0.01 % SoC that agrees is still used
    frames_ = hires.feed("355#43006400321A0000") + hires.feed(BYD_LVS_356)
    assert hires.decode(frames_).soc_pct == 67.06


def test_pytes_six_byte_35f_and_hash_byte() -> None:
    """Pytes V5 capture (AndreasBoehm/PytesCANProtocol): 6-byte 0x35F; 0x373 holds 0x23."""
    from batmux.cli import decode_frames

    out = decode_frames(
        "pylontech_can",
        ["356#8E14F9FFB400", "35F#01006E013200", "373#D80CDA0C21012301", "379#6400"],
    )
    assert out["capacity"] == 50 and out["installed_capacity_ah"] == 100
    assert out["cell_min"] == 3.288 and out["cell_max"] == 3.29
    assert out["voltage"] == 52.62 and out["current"] == -0.7


def test_359_flags_roundtrip() -> None:
    alarms = frozenset({Alarm.PACK_UNDERVOLTAGE, Alarm.CHARGE_OVERCURRENT, Alarm.BMS_FAULT})
    warnings = frozenset({Alarm.DISCHARGE_OVERTEMP})
    raw = encode_flags(alarms, warnings, 3)
    assert raw == bytes([0b100, 0b1001, 0b1000, 0, 3]) + b"PN"
    codec = pylon.PylontechCanCodec()
    sample = codec.decode(codec.feed((0x359, raw)) + codec.feed("356#7A13F2FE6B01"))
    assert sample.alarms == alarms and sample.warnings == warnings


def test_victron_extras() -> None:
    limits = ChargeLimits(55.2, 0.0, 50.0, 48.0, reason="cell_high")
    st_ = state(
        limits,
        voltage_v=53.0,
        current_a=1.0,
        soc_pct=99.0,
        cell_voltages_v=(3.30, 3.45, 3.31),
        temperatures_c=(20.0, 25.0),
    )
    st_ = type(st_)(
        **{
            **{f: getattr(st_, f) for f in st_.__slots__},
            "members": MemberCounts(online=3, offline=1, blocking_charge=2),
        }
    )
    built = dict(build_frames(st_, limits, PylontechCanOptions(victron_extras=True)))
    assert built[0x370] + built[0x371] == b"batmux".ljust(16, b"\x00")
    assert built[0x372] == bytes.fromhex("0300 0200 0000 0100".replace(" ", ""))
    assert built[0x373] == (3300).to_bytes(2, "little") + (3450).to_bytes(2, "little") + (
        293
    ).to_bytes(2, "little") + (298).to_bytes(2, "little")
    assert built[0x374].rstrip(b"\x00") == b"C1" and built[0x375].rstrip(b"\x00") == b"C2"
    assert built[0x359][4] == 3  # module count from the group
    assert built[0x35C] == b"\x40\x00"  # charge blocked, discharge allowed
    sample = decode_candump_frames("pylontech_can", [format_frame(i, d) for i, d in built.items()])
    assert sample.extra["cell_min"] == 3.3 and sample.extra["cell_max"] == 3.45
    assert sample.extra["modules_ok"] == 3 and sample.extra["modules_offline"] == 1
    assert sample.extra["bms_name"] == "batmux"
    assert sample.charge_enabled is False and sample.discharge_enabled is True


def test_cvl_zero_is_refused() -> None:
    st_ = state(ChargeLimits(0.0, 0, 0), voltage_v=50.0)
    with pytest.raises(ValueError, match="CVL 0"):
        build_frames(st_, ChargeLimits(0.0, 0.0, 0.0))


def test_stale_fallbacks() -> None:
    stale = ChargeLimits(55.2, 0.0, 0.0, 48.0, reason=STALE)
    st_ = state(stale, voltage_v=52.5, current_a=0.0, soc_pct=40.0)
    plain = dict(build_frames(st_, stale))
    assert plain[0x351][2:6] == bytes(4) and plain[0x35C] == b"\x00\x00"
    assert plain[0x351][:2] == (552).to_bytes(2, "little")  # CVL kept, never 0
    window = dict(build_frames(st_, stale, PylontechCanOptions(fallback="soc_window")))
    assert window[0x355][:2] == (100).to_bytes(2, "little")
    assert window[0x351][:2] == window[0x351][6:8] == (525).to_bytes(2, "little")
    standby = dict(build_frames(st_, stale, PylontechCanOptions(fallback="standby")))
    assert standby[0x359][1] & 0x08  # BMS/system error flag


def test_malformed_unknown_counted() -> None:
    codec = pylon.PylontechCanCodec()
    assert codec.feed("356#7A13") == [] and codec.feed("zz") == []
    assert codec.feed("305#0000000000000000") == [] and codec.feed("123#00") == []
    assert codec.corrupt_frames == 2 and codec.unknown_frames == 2
    with pytest.raises(ProtocolError, match="0x356"):
        codec.decode(codec.feed("351#1402C012C012C201"))


@pytest.mark.fuzz
@given(st.sampled_from(sorted(pylon.PylontechCanCodec.min_length)), st.binary(max_size=9))
def test_fuzz_feed_decode(can_id: int, data: bytes) -> None:
    codec = pylon.PylontechCanCodec()
    out = codec.feed((can_id, data)) + codec.feed("356#7A13F2FE6B01")
    # a valid 0x356 plus any other frame: a sample, unless the other frame's values are
    # impossible (SoC 256 %), which the codec refuses like every codec does
    with contextlib.suppress(ImplausibleSample):
        check_plausible(codec.decode(out))


def test_cli_decode_takes_candump_syntax() -> None:
    from batmux.cli import decode_frames

    args = [format_frame(i, d) for i, d in frames(US5000)]
    out = decode_frames("pylontech_can", args)
    assert out["voltage"] == 49.86 and out["current"] == -27.0 and out["soc"] == 88
    with pytest.raises(ProtocolError):
        decode_frames("pylontech_can", ["351:xyz"])
    assert decode_frames("byd_can", ["1D0#0849000000B40308"])["voltage"] == 212.1


def test_real_healthy_byd_lvs_is_not_blocked_by_the_limits_engine() -> None:
    """Issue #10: the real all-OK 0x35A made CCL = DCL = 0 (``alarm_pack_overvoltage``)."""
    import json
    from pathlib import Path

    from batmux.core.bank_config import LimitsConfig
    from batmux.core.limits import LimitState, battery_limits

    peer = Path(__file__).parents[1] / "vectors/peers/pylontech_can/byd_lvs_victron_dfch.json"
    codec = pylon.PylontechCanCodec()
    frames_ = [p for f in json.loads(peer.read_text())["frames"] for p in codec.feed(f)]
    sample = codec.decode(frames_, 10.0)
    cfg = LimitsConfig(max_charge_current=100.0, max_discharge_current=150.0)
    result = battery_limits(cfg, sample, True, LimitState(), 10.0)
    assert result.limits.charge_current_a > 0 and result.limits.discharge_current_a > 0
    assert "alarm" not in result.limits.reason
    assert result.limits.charge_voltage_v == 58.4  # the BYD's own CVL stands
