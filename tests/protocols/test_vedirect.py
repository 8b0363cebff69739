"""VE.Direct codec: real captured blocks, interleaved HEX, bad checksums, HEX framing."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.alarms import Alarm
from batmux.protocols.base import sum8
from batmux.protocols.vedirect_fields import decode_fields, decode_mppt
from batmux.protocols.vedirect_hex import (
    CMD_GET,
    CMD_SET,
    FLAG_UNKNOWN_ID,
    REG_DEVICE_MODE,
    build_get,
    build_register_response,
    build_set,
    encode_hex,
    parse_hex_response,
)
from batmux.protocols.vedirect_text import VeDirectCodec, encode_block, parse_block
from ble_contract import decode_or_error


def block(*lines: str) -> bytes:
    return "".join("\r\n" + line for line in lines).encode("latin-1")


# Captured from a BMV-700 (karioja/vedirect test/bvm702.dump, first two blocks; the dump file
# shows lines without '\r', the wire carries "\r\n" before every line). Checksums verify as is.
BMV_LIVE = block(
    "PID\t0x203", "V\t12065", "I\t-7625", "P\t-92", "CE\t-65473", "SOC\t839", "TTG\t942",
    "Alarm\tOFF", "Relay\tOFF", "AR\t0", "BMV\t700", "FW\t0308", "Checksum\tq",
)  # fmt: skip
BMV_HISTORY = block(
    "H1\t-149322", "H2\t-82854", "H3\t0", "H4\t0", "H5\t0", "H6\t-5526294", "H7\t11733",
    "H8\t16161", "H9\t368003", "H10\t26", "H11\t0", "H12\t0", "H17\t6843", "H18\t8527",
    "Checksum\t\u00bc",
)  # fmt: skip
# SmartSolar, firmware 1.39 (karioja/vedirect test/smartsolar_1.39.dump, second block).
MPPT_BLOCK = block(
    "PID\t0xA05F", "FW\t139", "SER#\tHQ18486U2B4", "V\t12810", "I\t-10", "VPV\t10", "PPV\t0",
    "CS\t0", "MPPT\t0", "ERR\t0", "LOAD\tON", "IL\t0", "H19\t0", "H20\t0", "H21\t0", "H22\t0",
    "H23\t0", "HSDS\t0", "Checksum\t\u00e4",
)  # fmt: skip


def test_captured_checksums_sum_to_zero() -> None:
    assert sum8(BMV_LIVE) == sum8(BMV_HISTORY) == sum8(MPPT_BLOCK) == 0


def test_bmv_golden() -> None:
    # 400 Ah: this BMV's own setting is about that (−65.5 Ah consumed at 83.9 %); a capacity
    # that disagrees with the SoC by more than 15 points is refused as implausible
    codec = VeDirectCodec(capacity_ah=400.0)
    blocks = codec.feed(BMV_LIVE + BMV_HISTORY)
    assert blocks == [BMV_LIVE, BMV_HISTORY]
    s = codec.decode(blocks, timestamp=5.0)
    assert s.voltage_v == 12.065
    assert s.current_a == -7.625  # VE.Direct I is already + into the battery: discharging here
    assert s.power_w == -92
    assert s.soc_pct == 83.9
    assert s.charge_ah == 334.527  # 400 Ah − 65.473 Ah consumed
    assert s.capacity_ah == 400.0
    assert s.cycles == 0
    assert s.alarms == frozenset()
    assert s.extra["consumed_ah"] == -65.473
    assert s.extra["time_to_go_s"] == 942 * 60
    assert s.extra["alarm"] is False and s.extra["relay"] is False
    assert s.extra["deepest_discharge_ah"] == -149.322
    assert s.extra["total_ah_drawn"] == -5526.294
    assert s.extra["min_voltage"] == 11.733 and s.extra["max_voltage"] == 16.161
    assert s.extra["seconds_since_full_charge"] == 368003
    assert s.extra["automatic_syncs"] == 26
    assert s.extra["discharged_energy_kwh"] == 68.43
    assert s.extra["charged_energy_kwh"] == 85.27
    assert s.extra["product_id"] == "0x203" and s.extra["model"] == "700"
    assert codec.corrupt_frames == 0


def test_mppt_golden() -> None:
    codec = VeDirectCodec()
    [frame] = codec.feed(MPPT_BLOCK)
    reading = decode_mppt(parse_block(frame), 1.0)
    assert reading.battery_voltage_v == 12.81
    assert reading.battery_current_a == -0.01
    assert reading.pv_voltage_v == 0.01 and reading.pv_power_w == 0
    assert reading.state_name == "off" and reading.tracker_mode_name == "off"
    assert reading.error_name == "none" and reading.load_on is True
    assert reading.serial == "HQ18486U2B4"
    s = codec.decode([frame], 1.0)
    assert s.voltage_v == 12.81 and s.current_a == -0.01
    assert s.extra["charger_state"] == "off" and s.extra["charging"] is False


def test_mppt_units_and_state_names() -> None:
    fields = {
        "V": "13650", "I": "15200", "VPV": "35010", "PPV": "213", "CS": "5", "MPPT": "2",
        "ERR": "33", "OR": "0x00000004", "LOAD": "OFF", "IL": "1200",
        "H19": "12345", "H20": "112", "H21": "410", "H22": "98", "H23": "377",
    }  # fmt: skip
    r = decode_mppt(fields, 0.0)
    assert (r.battery_voltage_v, r.battery_current_a, r.pv_voltage_v) == (13.65, 15.2, 35.01)
    assert r.state_name == "float" and r.tracker_mode_name == "mppt"
    assert r.error_name == "input_voltage_too_high" and r.off_reason == 4
    assert r.load_on is False and r.load_current_a == 1.2
    assert r.yield_total_kwh == 123.45 and r.yield_today_kwh == 1.12
    assert r.max_power_today_w == 410 and r.yield_yesterday_kwh == 0.98
    assert r.to_sample().power_w == round(13.65 * 15.2, 3)


def test_interleaved_hex_frame_does_not_break_the_block() -> None:
    hex_frame = build_register_response(0xA, 0x0FFF, (8390).to_bytes(2, "little"))
    cut = BMV_LIVE.index(b"\r\nSOC")
    stream = BMV_LIVE[:cut] + hex_frame + BMV_LIVE[cut:]
    codec = VeDirectCodec()
    assert codec.feed(stream) == [BMV_LIVE]
    assert codec.pop_hex() == [hex_frame.rstrip(b"\n")]
    assert parse_hex_response(hex_frame).value_int() == 8390


def test_corrupted_block_is_counted_and_rejected() -> None:
    codec = VeDirectCodec()
    bad = BMV_LIVE.replace(b"V\t12065", b"V\t12066")
    blocks = codec.feed(BMV_LIVE + bad + BMV_HISTORY)
    assert blocks == [BMV_LIVE, BMV_HISTORY]
    assert codec.corrupt_frames == 1
    assert isinstance(codec.last_error, CorruptFrame)


def test_a_400_digit_number_with_a_matching_checksum_is_a_corrupt_frame() -> None:
    """Issue 11 item 10: it raised OverflowError, which no source expects from a codec."""
    codec = VeDirectCodec()
    blocks = codec.feed(encode_block([("V", "9" * 400), ("I", "1000"), ("SOC", "500")]))
    assert len(blocks) == 1  # the checksum is right: only the value is absurd
    with pytest.raises(CorruptFrame, match="V: a 400-character number"):
        codec.decode(blocks)


def test_split_anywhere_and_leading_junk() -> None:
    stream = b"3\r\nV\t1" + BMV_LIVE + BMV_HISTORY + MPPT_BLOCK
    for size in (1, 3, 7, 64):
        codec = VeDirectCodec()
        out: list[bytes] = []
        for i in range(0, len(stream), size):
            out += codec.feed(stream[i : i + size])
        assert out == [BMV_LIVE, BMV_HISTORY, MPPT_BLOCK]
        assert codec.corrupt_frames == 0  # the cut first block only synchronizes


def test_checksum_byte_may_be_newline_or_colon() -> None:
    for value in range(200):
        b = encode_block([("V", str(12000 + value)), ("I", "0")])
        if b[-1] in (0x0A, 0x3A, 0x09):
            codec = VeDirectCodec()
            assert codec.feed(b + b) == [b, b]


def test_encode_block_roundtrip_and_alarm_reason() -> None:
    b = encode_block([("V", "26100"), ("I", "1500"), ("SOC", "1000"), ("AR", "4097"),
                      ("Alarm", "ON"), ("T", "24"), ("TTG", "-1")])  # fmt: skip
    assert sum8(b) == 0
    s = decode_fields(parse_block(b))
    assert s.current_a == 1.5 and s.soc_pct == 100.0 and s.temperatures_c == (24.0,)
    assert s.alarms == {Alarm.PACK_UNDERVOLTAGE, Alarm.SHORT_CIRCUIT}
    assert "time_to_go_s" not in s.extra  # −1 = infinite


def test_bad_values_raise_protocol_error_only() -> None:
    with pytest.raises(ProtocolError):
        decode_fields({"V": "12x"})
    with pytest.raises(ProtocolError):
        decode_fields({"H1": "1"})  # a history block alone is no sample
    assert decode_fields({"V": "12000", "T": "---"}).temperatures_c == ()


# -- HEX -----------------------------------------------------------------------------------
def test_hex_known_frames() -> None:
    # Examples of the BlueSolar HEX document: ping, product id, get battery max current.
    assert encode_hex(0x1) == b":154\n"
    assert encode_hex(0x4) == b":451\n"
    assert build_get(0xEDF0) == b":7F0ED0071\n"


def test_hex_set_and_response() -> None:
    frame = build_set(REG_DEVICE_MODE, 4)
    assert frame == b":80002000447\n"
    assert (8 + 0x00 + 0x02 + 0x00 + 0x04 + 0x47) & 0xFF == 0x55
    r = parse_hex_response(frame)
    assert (r.command, r.register, r.flags, r.value_int()) == (CMD_SET, 0x0200, 0, 4)
    get = parse_hex_response(build_register_response(CMD_GET, 0x1000, (200).to_bytes(2, "little")))
    assert get.register == 0x1000 and get.value_int() == 200 and get.ok
    unknown = parse_hex_response(build_register_response(CMD_GET, 0x1234, b"", FLAG_UNKNOWN_ID))
    assert not unknown.ok
    two = build_set(0xEDF0, 300, size=2)
    assert parse_hex_response(two).value_int() == 300


@pytest.mark.parametrize(
    "line", [b":7F0ED0072\n", b":7F0ED00\n", b":7ZZ\n", b"7F0ED0071\n", b":", b":7F0ED007\n"]
)
def test_hex_bad_frames(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_hex_response(line)


# -- fuzz: only ProtocolError may escape ------------------------------------------------
EXAMPLES = 10_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 200
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
STREAM = BMV_LIVE + b":A0F0F00463C18\n" + BMV_HISTORY + MPPT_BLOCK


def feed_and_decode(codec: VeDirectCodec, chunks: list[bytes]) -> None:
    for chunk in chunks:
        for block in codec.feed(chunk):
            decode_or_error(codec, [block])
    for line in codec.pop_hex():
        with contextlib.suppress(ProtocolError):
            parse_hex_response(line)


@pytest.mark.fuzz
@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_random_bytes(chunks: list[bytes]) -> None:
    feed_and_decode(VeDirectCodec(capacity_ah=100), chunks)


@pytest.mark.fuzz
@FUZZ
@given(st.data())
def test_mutated_real_stream(data: st.DataObject) -> None:
    stream = bytearray(STREAM * 2)
    for _ in range(data.draw(st.integers(0, 6))):
        at = data.draw(st.integers(0, len(stream) - 1))
        stream[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, 64))
    codec = VeDirectCodec()
    feed_and_decode(codec, [bytes(stream[i : i + cut]) for i in range(0, len(stream), cut)])


@pytest.mark.fuzz
@FUZZ
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8),
            st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12),
        ).filter(lambda kv: ":" not in kv[0] + kv[1] and "\t" not in kv[0]),
        min_size=1,
        max_size=12,
    )
)
def test_checksummed_nonsense_fields(fields: list[tuple[str, str]]) -> None:
    # Blocks that verify but carry anything: decode must still only raise ProtocolError.
    codec = VeDirectCodec()
    feed_and_decode(codec, [encode_block(fields)])


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=40))
def test_hex_parser(line: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_hex_response(b":" + line)
