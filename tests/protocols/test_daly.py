"""Daly classic (A5) codec against the captured vectors, plus fuzz and stream faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import daly
from batmux.protocols.base import sum8
from batmux.protocols.daly import DalyCodec
from ble_contract import check_vector, corrupt, feed_all, fuzz_test, load, vector_chunks, vectors

VECTORS = vectors("daly")
DALY_2 = [bytes.fromhex(f) for f in load(VECTORS[1])["frames"]]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    check_vector(DalyCodec, path)


@pytest.mark.parametrize("size", [1, 20, 26])
def test_vector_in_notifications(size: int) -> None:
    frames = feed_all(DalyCodec(), vector_chunks(VECTORS[1], size))
    assert frames == DALY_2


def test_requests_match_documented_bytes() -> None:
    assert daly.request(daly.CMD_SOC).hex() == "a58090080000000000000000bd"
    assert daly.request(daly.CMD_SOC, daly.HOST_ALT).hex() == "a540900800000000000000007d"
    assert (
        daly.request(daly.CMD_STATUS, daly.HOST_ALT).hex()
        == load(VECTORS[0])["additional_requests"][0]
    )
    assert daly.parse_request(daly.switch_request("charge", True)) == (
        0x80,
        0xDA,
        b"\x01" + bytes(7),
    )
    assert daly.parse_request(DALY_2[0]) is None  # a reply is not a request


def test_sign_follows_state_byte() -> None:
    soc, mos = DALY_2[0], DALY_2[3]
    assert DalyCodec().decode([soc]).current_a == -2.1  # no 0x93: raw positive = discharging
    charging = bytearray(mos)
    charging[4] = 1
    charging[12] = sum(charging[:12]) & 0xFF
    assert DalyCodec().decode([soc, bytes(charging)]).current_a == 2.1


def test_corrupt_truncated_duplicated_interleaved() -> None:
    codec = DalyCodec()
    stream = [corrupt(DALY_2[0]), DALY_2[5][:7], b"\xa5\x01", *DALY_2, *DALY_2[5:9], b"junk"]
    frames = feed_all(codec, stream)
    assert codec.corrupt_frames >= 1
    sample = codec.decode(frames)
    assert len(sample.cell_voltages_v) == 16 and sample.voltage_v == 53.2


def test_decode_without_soc_reply_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        DalyCodec().decode(DALY_2[1:])


def test_encoder_round_trip() -> None:
    sample = BatterySample(
        timestamp=0, voltage_v=13.3, current_a=4.2, soc_pct=61.5, charge_ah=61.5,
        cycles=9, cell_voltages_v=(3.31, 3.32, 3.33, 3.34), temperatures_c=(19.0, 21.0),
        charge_enabled=True, discharge_enabled=False, balancing=True,
        alarms=frozenset({Alarm.CELL_OVERVOLTAGE, Alarm.SHORT_CIRCUIT}),
    )  # fmt: skip
    frames: list[bytes] = []
    for cmd in range(daly.CMD_SOC, daly.CMD_FAULTS + 1):
        frames += daly.build_replies(cmd, sample)
    codec = DalyCodec()
    got = codec.decode(feed_all(codec, frames))
    for field in ("voltage_v", "current_a", "soc_pct", "charge_ah", "cycles", "cell_voltages_v",
                  "temperatures_c", "charge_enabled", "discharge_enabled", "balancing",
                  "alarms"):  # fmt: skip
        assert getattr(got, field) == getattr(sample, field), field


def test_absent_probe_is_dropped() -> None:
    """daly_2's real 0x96 reply holds 0x37 (15 °C) then raw 0 bytes; with the 0x94 reply
    counting two probes, the raw-0 one is absent, not −40 °C."""
    frames = [f for f in DALY_2 if f[2] != daly.CMD_STATUS]
    status = next(f for f in DALY_2 if f[2] == daly.CMD_STATUS)
    data = bytearray(status[4:12])
    data[1] = 2  # two probes counted
    sample = DalyCodec().decode(
        [*frames, daly.frame(daly.REPLY_ADDR, daly.CMD_STATUS, bytes(data))]
    )
    assert sample.temperatures_c == (15.0,)
    assert sample.extra["absent_probes"] == "2"


def _fix_daly(frame: bytearray) -> None:
    frame[12] = sum8(bytes(frame[:12]))


# payload: the 8 data bytes between the 4-byte head and the checksum
test_fuzz = fuzz_test(DalyCodec, DALY_2[:6], fix=_fix_daly, payload=(4, 12))
