"""Junctek KH-F/KG-F codec: the shared serial vectors, bad lines, stream faults, fuzz."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.cli import decode_frames
from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.alarms import Alarm
from batmux.protocols import junctek as j
from ble_contract import fuzz_test
from conftest import VECTORS
from helpers import check_sample

VECTOR = json.loads((VECTORS / "serial" / "junctek_khf_kgf_r50.json").read_text())
LINES = {f.get("model", "request"): f["line"].replace("\\r\\n", "\r\n") for f in VECTOR["frames"]}
KHF, KGF, REQUEST = LINES["KH-F"].encode(), LINES["KG-F"].encode(), LINES["request"].encode()
# Real lines from other projects (peer vectors hold their expected values)
KG160F = b":r50=5,140,5206,6055,295303,5656,1295308,14087,127,0,0,0,292,5515,\r\n"
R51 = b":r51=1,12,0,0,0,0,0,100,0,0,4200,100,100,100,0,0,1,\r\n"
# Lines whose checksum does not add up, as published: jkt628/juntek_monitor's test line
# (checksum 83, the numbers give 171) and the KG-F manual example quoted in a test of
# another project (215 vs 247). A reader that checks the checksum drops both.
BAD_CHECKSUM = (
    b":r50=1,83,1334,120,297385,91985,739573,14353,123,4112,99,1,3426,769,\r\n",
    b":r50=2,215,2056,200,5408,4592,9437,14353,134,4112,0,0,162,30682,\r\n",
)


def test_request_is_the_manuals() -> None:
    assert j.build_request(j.MEASURE, 1) == REQUEST
    assert VECTOR["expected"]["request_checksum_ok"] is True
    assert j.build_request(j.SETTINGS, 7) == b":R51=7,2,1,\r\n"


@pytest.mark.parametrize("model", ["KH-F", "KG-F"])
def test_shared_vector_lines_decode_to_expected(model: str) -> None:
    want: dict[str, Any] = VECTOR["expected"][model]
    codec = j.JunctekCodec()
    lines = codec.feed(LINES[model].encode())
    assert len(lines) == 1 and codec.corrupt_frames == 0
    assert want["checksum_ok"]
    sample = codec.decode(lines, 1.0)
    sign = 1 if model == "KH-F" else -1  # KH-F: direction 1 (charging); KG-F: 0
    check_sample(
        sample,
        {
            "address": want["address"],
            "voltage": want["voltage_V"],
            "current": sign * want["current_A"],
            "charge": want["remaining_Ah"],
            "model": model,
        },
        model,
    )
    if model == "KH-F":
        check_sample(
            sample,
            {
                "temperatures": [want["temperature_C"]],
                "discharge_energy_kwh": want["discharge_energy_kWh"],
                "charge_energy_kwh": want["charge_energy_kWh"],
                "run_record": want["run_record"],
                "direction": want["direction"],
                "output": "on",
                "remaining_minutes": want["remaining_time_min"],
            },
            model,
        )


def test_decode_cli_takes_lines_with_or_without_line_ends() -> None:
    escaped = decode_frames("junctek", [VECTOR["frames"][1]["line"]])
    bare = decode_frames("junctek", [LINES["KH-F"].strip()])
    assert escaped == bare and bare["current"] == 10.9


def test_counter_soc_from_the_r51_capacity_or_the_configured_one() -> None:
    codec = j.JunctekCodec()  # any address: the r51 of one shunt, the r50 of another
    sample = codec.decode(codec.feed(R51 + KG160F))
    assert sample.capacity_ah == 420.0 and sample.soc_pct == pytest.approx(70.31, abs=0.01)
    assert sample.extra["soc_source"] == "counter"
    fixed = j.JunctekCodec(capacity_ah=300.0)
    assert fixed.decode(fixed.feed(R51 + KG160F)).soc_pct == pytest.approx(98.43, abs=0.01)


def test_lines_split_anywhere_and_joined_decode_the_same() -> None:
    stream = REQUEST + KHF + b"\x00junk\r\n" + KG160F
    for size in (1, 3, 7, 64):
        codec = j.JunctekCodec()
        lines = [ln for i in range(0, len(stream), size) for ln in codec.feed(stream[i : i + size])]
        assert [ln[:5] for ln in lines] == [b":r50=", b":r50="]
        assert codec.requests_seen == 1 and codec.corrupt_frames == 1
        assert codec.decode(lines).voltage_v == 52.06


@pytest.mark.parametrize("line", BAD_CHECKSUM)
def test_bad_checksum_is_counted_and_dropped(line: bytes) -> None:
    codec = j.JunctekCodec()
    assert codec.feed(line) == []
    assert codec.corrupt_frames == 1 and isinstance(codec.last_error, CorruptFrame)
    with pytest.raises(ProtocolError):
        decode_frames("junctek", [line.decode()])


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\r\n",
        b":r50=1,2,x,\r\n",
        b":r50=\r\n",
        b":r50=1,1,\r\n",  # address and checksum, no values
        b":r50=1,0,1,\r\n",  # checksum 0 cannot be verified
        b":r50=1,6,1,2,\r\n",  # checksum ok but too few numbers for a measurement
        b":r51=1,3,1,1,\r\n",  # settings without the capacity
        b"x" * 300,  # no line end at all
        j.build_reply(j.MEASURE, 1, [10**200, *range(12)]),  # 201 digits: no real field
    ],
)
def test_garbage_is_counted_and_dropped(garbage: bytes) -> None:
    codec = j.JunctekCodec()
    assert codec.feed(garbage) == []
    assert codec.corrupt_frames == 1
    assert codec.feed(KHF)  # the next good line still comes through


def test_other_addresses_and_requests_are_not_errors() -> None:
    codec = j.JunctekCodec(address=1)
    assert codec.feed(KG160F) == []  # address 5
    assert codec.feed(b":R50=1,2,1,\r\n:W10=1,2,1,\r\n") == []
    assert (codec.other_replies, codec.requests_seen, codec.corrupt_frames) == (1, 2, 0)


def test_protection_state_becomes_an_alarm_and_direction_must_be_0_or_1() -> None:
    values = [1198, 1090, 7421, 2749, 437, 298, 113, 0, 1, 1, 69, 100, 230208, 112418]
    sample = j.JunctekCodec().decode([j.build_reply(j.MEASURE, 1, values).strip()])
    assert sample.alarms == {Alarm.PACK_OVERVOLTAGE} and sample.extra["output"] == "OVP"
    values[9] = 2
    with pytest.raises(CorruptFrame):
        j.JunctekCodec().decode([j.build_reply(j.MEASURE, 1, values).strip()])


def test_decode_without_a_measurement_raises() -> None:
    codec = j.JunctekCodec()
    with pytest.raises(ProtocolError):
        codec.decode(codec.feed(R51))


test_fuzz = fuzz_test(j.JunctekCodec, [KHF, KGF, KG160F, R51, REQUEST, *BAD_CHECKSUM])


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=20), st.integers(1, 99))
def test_fuzz_checksummed_lines_only_raise_protocol_errors(values: list[int], addr: int) -> None:
    """Lines with a valid checksum but arbitrary numbers: decode may refuse, never crash."""
    codec = j.JunctekCodec()
    lines = codec.feed(j.build_reply(j.MEASURE, addr, values))
    with contextlib.suppress(ProtocolError):
        sample = codec.decode(lines)
        assert sample.current_a is not None and sample.voltage_v is not None
