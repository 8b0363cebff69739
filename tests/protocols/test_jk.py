"""JK02 codec: vectors, device info, layout detection, reassembly, bad input, fuzz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.cli import decode_frames
from batmux.cli import main as cli_main
from batmux.core.bank_config import LimitsConfig, TableConfig
from batmux.core.limits import current_targets
from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import jk
from batmux.protocols.jk04 import Jk04Codec
from ble_contract import checksum_valid_mutations, decode_or_error, feed_all, fuzz_test
from conftest import load_vectors
from helpers import assert_matches
from superseded import current_expected

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
    assert_matches(codec.decode(frames).to_json(), current_expected(name, vector["expected"]), name)
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
    assert_matches(codec.decode(frames).to_json(), current_expected(name, vector["expected"]), name)


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


# -- issue #10: probes, T3/T4, JK04, wrong layout — on real captures ------------------------

PEERS = Path(__file__).parents[1] / "vectors" / "peers"


def _peer(name: str) -> dict:
    return json.loads((PEERS / name).read_text())


def _cell_frame(vector: dict) -> bytes:
    return next(bytes.fromhex(f) for f in vector["frames"] if bytes.fromhex(f)[4] == jk.TYPE_CELLS)


def _patched(frame: bytes, changes: dict[int, bytes]) -> bytes:
    """A real frame with some bytes replaced and its checksum recomputed."""
    buf = bytearray(frame)
    for at, data in changes.items():
        buf[at : at + len(data)] = data
    buf[299] = jk.sum8(buf[:299])
    return bytes(buf)


_V15 = _cell_frame(_peer("jk02_32s/aiobmsble_pb2a16s20p_v15_t3_t4.json"))
_V11_17 = _cell_frame(_peer("jk02_32s/syssi_b2a8s20p_v11_17_probes_absent.json"))
_ABSENT = jk.ABSENT_PROBE.to_bytes(2, "little", signed=True)


def test_t3_t4_of_firmware_14_are_battery_probes_and_limits_see_them() -> None:
    """aiobmsble's v15.38 capture: T1 13.4, T2 12.8, T3 19.5, T4 19.1 (MOSFET 12.9)."""
    sample = jk.decode_cell_info(_V15, jk.JK02_32S, extra_probes=True)
    assert sample.temperatures_c == (13.4, 12.8, 19.5, 19.1)
    assert (sample.min_temperature_c, sample.max_temperature_c) == (12.8, 19.5)
    assert sample.mos_temperature_c == 12.9
    # a charge table that stops at 19 °C: only T3 is that warm
    cfg = LimitsConfig(charge_temperature_table=TableConfig(x=[0, 19.0, 19.2], y=[1, 1, 0]))
    (ccl, rule), _ = current_targets(cfg, sample)
    assert (ccl, rule) == (0.0, "temperature")
    # firmware < 14 carries no T3/T4: the same bytes are not read as probes
    assert jk.decode_cell_info(_V15, jk.JK02_32S, extra_probes=False).temperatures_c == (
        13.4,
        12.8,
    )


def test_presence_mask_drops_probes_of_a_real_pack_without_them() -> None:
    """JK-B2A8S20P 11.17: mask 0x07 (MOSFET, T1, T2); 254/256/258 read 0 and are no probes
    even when T3/T4 are asked for."""
    assert _V11_17[214] == 0x07
    sample = jk.decode_cell_info(_V11_17, jk.JK02_32S, extra_probes=True)
    assert sample.temperatures_c == (29.7, 29.8)
    assert sample.mos_temperature_c == 36.1


def test_absent_probe_sentinel_and_cleared_mask_bit_drop_the_probe() -> None:
    """The real v15.38 frame with T2 unplugged as aiobmsble's test does it: raw −2000 at 164
    and/or bit 2 of the mask cleared. Never −200 °C in temperatures or in the limits."""
    for changes in (
        {164: _ABSENT},
        {214: bytes([0xFB])},
        {164: _ABSENT, 214: bytes([0xFB])},
    ):
        sample = jk.decode_cell_info(_patched(_V15, changes), jk.JK02_32S, extra_probes=True)
        assert sample.temperatures_c == (13.4, 19.5, 19.1), changes
        assert sample.min_temperature_c == 13.4
    no_mos = jk.decode_cell_info(_patched(_V15, {144: _ABSENT}), jk.JK02_32S, extra_probes=True)
    assert no_mos.mos_temperature_c is None
    assert "mos_temperature" not in no_mos.to_json()


# jblance/mpp-solar mppsolar/protocols/jk02.py getCellData test response 3 ("jk02 example from
# @nonoceb", 2021): a 3S Li-ion pack with no battery probes fitted. mpp-solar's field list
# reads Battery_T1 = Battery_T2 = -200.0 and MOS_Temp = 33.9 from it; the mask at 182 is 0x01.
_NO_PROBES_24S = bytes.fromhex(
    "55aaeb900210ad0e520e530e00000000000000000000000000000000000000000000000000000000000000000000000000000000000007000000700e00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000512b0000000000000000000030f830f8530100000c010000c214000070170000000000008f01000000005107af6900000000cb06000000000000000000000000010000000000110400000000924a3b4000000000ad0800000000000100010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c"
)


def test_real_24s_frame_without_probes_reports_no_temperatures() -> None:
    """Raw −2000 at 130/132 (−200 °C to a decoder that does not know the sentinel) and the
    presence mask 0x01 (MOSFET only): no battery temperature at all, the MOSFET's 33.9 °C."""
    frame = _NO_PROBES_24S
    assert frame[130:134] == _ABSENT * 2 and frame[182] == 0x01
    sample = jk.decode_cell_info(frame, jk.JK02_24S)
    assert sample.temperatures_c == ()
    assert sample.min_temperature_c is None and sample.max_temperature_c is None
    assert sample.mos_temperature_c == 33.9
    assert (sample.voltage_v, sample.cell_voltages_v) == (11.089, (3.757, 3.666, 3.667))
    # the limits see no temperature rule at all, rather than a −200 °C one
    (_, charge_rule), (_, discharge_rule) = current_targets(LimitsConfig(), sample)
    assert "temperature" not in (charge_rule, discharge_rule)
    assert "-200" not in json.dumps(sample.to_json())


def test_absent_probe_in_a_real_24s_frame() -> None:
    """aiobmsble's 10.08 capture (vector jk02_24s_1) with T2 at −2000 and mask bit 2 cleared
    (0x03: MOSFET and T1 fitted): T2 is dropped, T1 and the MOSFET stay."""
    frame = _first_frame("jk02_24s_1")
    assert frame[182] == 0x07
    for changes in ({132: _ABSENT}, {182: b"\x03"}, {132: _ABSENT, 182: b"\x03"}):
        sample = jk.decode_cell_info(_patched(frame, changes), jk.JK02_24S)
        assert sample.temperatures_c == (18.1,), changes
        assert sample.mos_temperature_c == 22.8
    no_mos = jk.decode_cell_info(_patched(frame, {182: b"\x06"}), jk.JK02_24S)
    assert (no_mos.temperatures_c, no_mos.mos_temperature_c) == ((18.1, 18.6), None)


@pytest.mark.parametrize(
    ("peer", "protocol"),
    [("jk04/syssi_b2a16s_hw3_sw330.json", "jk02_24s"), ("jk04/syssi_b2a16s_hw3_sw330.json",
     "jk02_32s"), ("jk04/syssi_b5a24s_sw803m.json", "jk02_32s")],
)  # fmt: skip
def test_jk04_frame_read_as_jk02_is_refused_with_the_likely_cause(peer: str, protocol: str) -> None:
    """It used to decode as 1,036,901 V with exit 0."""
    with pytest.raises(jk.JkLayoutError, match="type: jk04"):
        decode_frames(protocol, _peer(peer)["frames"])


def test_jk04_real_frames_decode_and_auto_detects_them() -> None:
    vector = _peer("jk04/syssi_b2a16s_hw3_sw330.json")
    codec = jk.JkAutoCodec()
    frames = [f for text in vector["frames"] for f in codec.feed(bytes.fromhex(text))]
    assert codec.device_info is not None and codec.device_info.is_jk04
    sample = codec.decode(frames)
    assert sample.voltage_v == 53.691
    assert sample.cell_voltages_v[:2] == (3.3527, 3.3586)
    assert sample.current_a is None and sample.soc_pct is None
    # JK02 devices are not taken for JK04 by their device info
    for name, v in JK_VECTORS:
        if "device_info_frame" in v:
            assert not jk.decode_device_info(bytes.fromhex(v["device_info_frame"])).is_jk04, name


def test_jk04_codec_refuses_a_jk02_frame() -> None:
    with pytest.raises(jk.JkLayoutError, match="JK02"):
        decode_frames("jk04", [_first_frame("jk02_32s_1").hex()])


@pytest.mark.parametrize(
    ("name", "wrong", "hint"),
    [("jk02_32s_1", "jk02_24s", "32-cell layout"), ("jk02_32s_5", "jk02_24s", "32-cell layout"),
     ("jk02_24s_1", "jk02_32s", "24-cell layout"), ("jk02_24s_2", "jk02_32s", "24-cell layout")],
)  # fmt: skip
def test_wrong_layout_is_an_error_naming_the_type(name: str, wrong: str, hint: str) -> None:
    """A real frame of one layout under the other ``type:`` used to give 0 V / 16,384 Ah."""
    frame = _first_frame(name).hex()
    with pytest.raises(jk.JkLayoutError, match=f"looks like the {hint}: use `type: jk`"):
        decode_frames(wrong, [frame])
    # and ``type: jk`` reads it right whatever the device info said
    sample = decode_frames("jk", [frame])
    assert sample["voltage"] == dict(JK_VECTORS)[name]["expected"]["voltage"]


def test_wrong_layout_makes_decode_exit_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    frame = _first_frame("jk02_32s_1").hex()
    assert cli_main(["decode", "jk02_24s", frame]) != 0
    assert "looks like the 32-cell layout: use `type: jk`" in capsys.readouterr().err


_JK_AND_JK04_FRAMES = [_V15, _V11_17, _first_frame("jk02_24s_1")] + [
    _cell_frame(_peer(name))
    for name in ("jk04/syssi_b2a16s_hw3_sw330.json", "jk04/syssi_b5a24s_sw803m.json")
]

test_fuzz_jk04_stream = fuzz_test(Jk04Codec, _JK_AND_JK04_FRAMES)


@pytest.mark.fuzz
@pytest.mark.parametrize("codec_cls", [jk.JkAutoCodec, jk.Jk24sCodec, jk.Jk32sCodec, Jk04Codec])
@given(
    st.sampled_from(_JK_AND_JK04_FRAMES),
    st.lists(st.tuples(st.integers(6, 298), st.integers(1, 255)), min_size=1, max_size=8),
)
def test_fuzz_checksummed_mutations_of_real_frames(
    codec_cls: type[jk.JkCodec], frame: bytes, flips: list[tuple[int, int]]
) -> None:
    """Mutated real cell frames with a valid checksum reach every JK decoder: a sample or a
    ProtocolError, never another exception."""
    buf = bytearray(frame)
    for at, xor in flips:
        buf[at] ^= xor
    buf[299] = jk.sum8(buf[:299])
    codec = codec_cls()
    decode_or_error(codec, codec.feed(bytes(buf)))
