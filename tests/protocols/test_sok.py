"""SOK / ABC-BMS codec: vectors, CRC, resync, fuzz, encoder round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import sok
from batmux.protocols.sok import SokCodec
from ble_contract import check_vector, decode_or_error, load, vectors

VECTORS = vectors("sok")


def test_vectors_present() -> None:
    assert VECTORS, "no sok vectors in shared/vectors/ble"


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_decodes_to_expected(path: Path) -> None:
    check_vector(SokCodec, path, whole_frames=True)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_requests_match_vector(path: Path) -> None:
    vec = load(path)
    cmds = [sok.CMD_INFO, sok.CMD_DETAIL, sok.CMD_PROTECTION, sok.CMD_NAME]
    sent = [sok.request(c).hex() for c in cmds]
    assert sent == [vec["request"], *vec["additional_requests"]]
    assert [sok.parse_request(bytes.fromhex(h)) for h in sent] == cmds
    assert sok.parse_request(b"\xee\xc1\x00\x00\x00\x00") is None


def test_name_reply_encoder_matches_source() -> None:
    assert sok.build_name("SOK-BMS").hex() == "ccf1534f4b2d424d530d00000000000000000040"


def _stream() -> bytes:
    vec = load(VECTORS[0])
    return b"".join(bytes.fromhex(h) for h in vec["frames"])


def test_bad_crc_counted_and_dropped_then_resync() -> None:
    stream = bytearray(_stream())
    stream[25] ^= 0x40  # inside the second frame
    codec = SokCodec()
    frames = [f for i in range(0, len(stream), 7) for f in codec.feed(bytes(stream[i : i + 7]))]
    assert len(frames) == 5
    assert codec.corrupt_frames == 1
    assert isinstance(codec.last_error, CorruptFrame)


def test_junk_and_truncated_frames() -> None:
    stream = _stream()
    codec = SokCodec()
    frames = codec.feed(b"\x00\x01junk" + stream[:13] + stream)
    assert len(frames) == 6
    assert codec.corrupt_frames >= 1


def test_decode_needs_status_and_mosfet_frames() -> None:
    codec = SokCodec()
    with pytest.raises(ProtocolError, match="missing"):
        codec.decode([bytes.fromhex("ccf0a26b00000000a08601409e01070063000021")])


def test_encoder_round_trip_with_protection() -> None:
    truth = BatterySample(
        timestamp=0.0,
        voltage_v=53.125,
        current_a=-17.321,
        soc_pct=64,
        charge_ah=180.5,
        capacity_ah=280.0,
        cycles=12,
        cell_voltages_v=tuple(3.3 + i / 1000 for i in range(16)),
        temperatures_c=(21.0, -4.0),
        charge_enabled=False,
        discharge_enabled=True,
        balancing=True,
        extra={"heater": True},
    )
    frames = [
        *sok.build_replies(sok.CMD_INFO, truth),
        *sok.build_replies(sok.CMD_DETAIL, truth),
        *sok.build_replies(sok.CMD_PROTECTION, truth, protection_bits=0b101),
    ]
    assert len([f for f in frames if f[1] == sok.F_CELLS]) == 4
    codec = SokCodec()
    decoded = codec.decode([f for frame in frames for f in codec.feed(frame)])
    for name in (
        "voltage_v",
        "current_a",
        "soc_pct",
        "charge_ah",
        "capacity_ah",
        "cycles",
        "temperatures_c",
        "charge_enabled",
        "discharge_enabled",
        "balancing",
    ):
        assert getattr(decoded, name) == pytest.approx(getattr(truth, name)), name
    assert decoded.cell_voltages_v == pytest.approx(truth.cell_voltages_v)
    assert decoded.extra["heater"] is True
    assert decoded.extra["protection_bits"] == 0b101
    assert decoded.alarms == {Alarm.BMS_FAULT}


@pytest.mark.fuzz
@given(st.lists(st.binary(max_size=48), max_size=12))
def test_fuzz_feed_random_bytes(chunks: list[bytes]) -> None:
    codec = SokCodec()
    frames = [f for c in chunks for f in codec.feed(c)]
    decode_or_error(codec, frames)


@pytest.mark.fuzz
@given(st.data())
def test_fuzz_valid_crc_random_bodies(data: st.DataObject) -> None:
    # Frames with a correct CRC but random content must decode or raise ProtocolError.
    frames = []
    for ftype in data.draw(st.lists(st.sampled_from([0xF0, 0xF2, 0xF3, 0xF4, 0xF9]), max_size=8)):
        frames.append(sok.build_frame(ftype, data.draw(st.binary(min_size=17, max_size=17))))
    codec = SokCodec()
    fed = [f for frame in frames for f in codec.feed(frame)]
    assert fed == frames
    decode_or_error(codec, fed)
