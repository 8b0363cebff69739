"""JK02 codec: vectors, device info, layout detection, reassembly, bad input, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import jk
from ble_contract import checksum_valid_mutations, decode_or_error, feed_all
from conftest import load_vectors
from helpers import assert_matches

JK_VECTORS = load_vectors("ble", "jk")


def _codec(protocol: str) -> jk.JkCodec:
    return {"jk02_24s": jk.Jk24sCodec, "jk02_32s": jk.Jk32sCodec, "jk": jk.JkAutoCodec}[protocol]()


@pytest.mark.parametrize(("name", "vector"), JK_VECTORS, ids=[n for n, _ in JK_VECTORS])
def test_vectors_decode_through_20_byte_notifications(name: str, vector: dict) -> None:
    """Re-split every stored frame into 20-byte MTU chunks: reassembly must not care."""
    codec = _codec(vector["protocol"])
    stream = b"".join(bytes.fromhex(f) for f in vector["frames"])
    frames = []
    for i in range(0, len(stream), 20):
        frames += codec.feed(stream[i : i + 20])
    assert_matches(codec.decode(frames).to_json(), vector["expected"], name)
    assert codec.corrupt_frames == 0


@pytest.mark.parametrize(
    ("name", "vector"),
    [(n, v) for n, v in JK_VECTORS if "device_info_frame" in v],
    ids=[n for n, v in JK_VECTORS if "device_info_frame" in v],
)
def test_auto_codec_picks_layout_from_device_info(name: str, vector: dict) -> None:
    codec = jk.JkAutoCodec()
    frames = codec.feed(bytes.fromhex(vector["device_info_frame"]))
    for f in vector["frames"]:
        frames += codec.feed(bytes.fromhex(f))
    info = codec.device_info
    assert info is not None
    if "device" in vector:
        assert info.model == vector["device"]["model"]
        assert info.software == vector["device"]["sw"]
        assert info.serial == vector["device"]["serial"]
    assert codec.layout is not None and codec.layout.name == vector["protocol"]
    assert_matches(codec.decode(frames).to_json(), vector["expected"], name)


def test_settings_frame_gives_nominal_capacity() -> None:
    vector = dict(JK_VECTORS)["jk02_32s_8"]
    codec = jk.Jk32sCodec()
    codec.feed(bytes.fromhex(vector["settings_frame"]))
    assert codec.nominal_capacity_ah == vector["settings_expected"]["nominal_capacity"]


def test_commands_match_documented_bytes() -> None:
    assert jk.command(jk.REG_DEVICE_INFO).hex() == "aa5590eb97000000000000000000000000000011"
    assert jk.command(jk.REG_CELL_INFO).hex() == "aa5590eb96000000000000000000000000000010"
    assert jk.switch_command("charge", True).hex().endswith("9c")
    assert jk.switch_command("charge", False).hex().endswith("9b")
    assert jk.switch_command("discharge", True)[4] == 0x1E
    assert jk.parse_command(jk.switch_command("balance", True)) == (0x1F, 1)


def _first_frame(name: str) -> bytes:
    return bytes.fromhex(dict(JK_VECTORS)[name]["frames"][0])


def test_corrupt_frame_is_counted_and_next_good_frame_survives() -> None:
    good = _first_frame("jk02_24s_1")
    bad = bytearray(good)
    bad[120] ^= 0xFF
    codec = jk.Jk24sCodec()
    frames = codec.feed(b"AT\r\n" + bytes(bad) + good[:150]) + codec.feed(good[150:])
    assert len(frames) == 1
    assert codec.corrupt_frames == 1
    assert codec.decode(frames).voltage_v == pytest.approx(52.971)


def test_truncated_frame_then_new_frame_resyncs() -> None:
    good = _first_frame("jk02_24s_1")
    codec = jk.Jk24sCodec()
    frames = codec.feed(good[:200])  # the radio dropped the rest
    frames += codec.feed(good)
    assert len(frames) == 1 and codec.corrupt_frames == 1


def test_duplicated_notifications_do_not_make_bogus_frames() -> None:
    good = _first_frame("jk02_24s_1")
    codec = jk.Jk24sCodec()
    chunks = [good[i : i + 128] for i in range(0, 300, 128)]
    frames = []
    for chunk in [chunks[0], chunks[0], chunks[1], chunks[2], *chunks]:
        frames += codec.feed(chunk)
    assert all(jk.sum8(f[:299]) == f[299] for f in frames)
    # The duplicated head spoils one window (counted); both whole copies decode.
    assert len(frames) == 2 and codec.corrupt_frames == 1


def test_decode_without_cell_frame_raises_protocol_error() -> None:
    codec = jk.Jk24sCodec()
    with pytest.raises(ProtocolError):
        codec.decode([])


def test_encoder_is_the_inverse_of_the_decoder() -> None:
    sample = BatterySample(
        timestamp=0,
        voltage_v=53.12,
        current_a=-12.345,
        soc_pct=77,
        charge_ah=215.6,
        capacity_ah=280.0,
        cycles=12,
        cell_voltages_v=(3.32,) * 15 + (3.331,),
        temperatures_c=(21.5, -3.2),
        mos_temperature_c=30.1,
        charge_enabled=False,
        discharge_enabled=True,
        balancing=True,
        soh_pct=97,
        alarms=frozenset({Alarm.CELL_UNDERVOLTAGE}),
    )
    for layout in (jk.JK02_24S, jk.JK02_32S):
        decoded = jk.decode_cell_info(jk.build_cell_info(sample, layout), layout)
        for field in (
            "voltage_v",
            "current_a",
            "soc_pct",
            "charge_ah",
            "capacity_ah",
            "cycles",
            "cell_voltages_v",
            "temperatures_c",
            "mos_temperature_c",
            "charge_enabled",
            "discharge_enabled",
            "balancing",
            "soh_pct",
            "alarms",
        ):
            assert getattr(decoded, field) == getattr(sample, field), (layout.name, field)


@pytest.mark.fuzz
@given(st.lists(st.binary(max_size=400), max_size=6))
def test_fuzz_feed_and_decode_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    codec = jk.JkAutoCodec()
    frames = []
    for chunk in chunks:
        frames += codec.feed(chunk)
    decode_or_error(codec, frames)


def _fix_jk(frame: bytearray) -> None:
    frame[299] = jk.sum8(bytes(frame[:299]))


# every whole cell-info frame of the captured vectors, both layouts
_REAL_CELL_FRAMES = [
    f
    for _, vec in JK_VECTORS
    for f in feed_all(jk.JkAutoCodec(), [bytes.fromhex(n) for n in vec["frames"]])
    if f[4] == 2
]


@pytest.mark.fuzz
@given(checksum_valid_mutations(_REAL_CELL_FRAMES, _fix_jk, (6, 299)))
def test_fuzz_checksum_valid_mutations_of_real_frames(frame: bytes) -> None:
    """Real cell frames with bytes changed and the checksum fixed: each layout's codec gives a
    plausible sample or its own error (the issue's 2.1 MA / SoH 255 % samples)."""
    for codec in (jk.JkAutoCodec(), jk.Jk24sCodec(), jk.Jk32sCodec()):
        frames = codec.feed(frame)
        assert frames == [frame]
        decode_or_error(codec, frames)


@pytest.mark.fuzz
@given(st.binary(min_size=300, max_size=300))
def test_fuzz_checksummed_garbage_frames(body: bytes) -> None:
    """Random bodies with a valid header and checksum reach the decoder itself."""
    frame = bytearray(jk.HEADER + bytes([2]) + body[5:299] + b"\x00")
    frame[299] = jk.sum8(frame[:299])
    codec = jk.JkAutoCodec()
    decode_or_error(codec, codec.feed(bytes(frame)))


def _spoiled(frame: bytes, at: int) -> bytes:
    bad = bytearray(frame)
    bad[at] ^= 0x5A
    return bytes(bad)


_GOOD = _first_frame("jk02_24s_1")
_PIECES = st.sampled_from(
    [_GOOD, _spoiled(_GOOD, 100), _GOOD[:170], b"AT\r\n", jk.HEADER, b"\x00" * 7]
)


@pytest.mark.fuzz
@given(st.lists(_PIECES, min_size=1, max_size=8), st.lists(st.integers(1, 400), max_size=30))
def test_fuzz_how_notifications_are_cut_never_changes_the_frames(
    pieces: list[bytes], cuts: list[int]
) -> None:
    """Reassembly skips the header search while a frame is still arriving; whatever the
    notification sizes, the frames and the corrupt count equal those of one whole write."""
    stream = b"".join(pieces)
    whole = jk.Jk24sCodec()
    expected = whole.feed(stream)
    codec = jk.Jk24sCodec()
    frames: list[bytes] = []
    at = 0
    for size in [*cuts, len(stream)]:
        frames += codec.feed(stream[at : at + size])
        at += size
    assert frames == expected
    assert codec.corrupt_frames == whole.corrupt_frames
