"""JBD codec against the captured vectors, plus fuzz and stream faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import jbd
from batmux.protocols.jbd import JbdCodec
from ble_contract import check_vector, corrupt, feed_all, fuzz_test, load, vector_chunks, vectors

VECTORS = vectors("jbd")
JBD_1 = [bytes.fromhex(f) for f in load(VECTORS[0])["frames"]]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    check_vector(JbdCodec, path)


@pytest.mark.parametrize("size", [1, 7, 20])
def test_vector_in_notifications(size: int) -> None:
    codec = JbdCodec()
    frames = feed_all(codec, vector_chunks(VECTORS[0], size))
    assert [f.hex() for f in frames] == [f.hex() for f in JBD_1]


def test_requests_match_documented_bytes() -> None:
    assert jbd.request(jbd.REG_BASIC).hex() == "dda50300fffd77"
    assert jbd.request(jbd.REG_CELLS).hex() == "dda50400fffc77"
    assert jbd.switch_request(True, True).hex() == "dd5ae1020000ff1d77"
    assert jbd.switch_request(False, True).hex() == "dd5ae1020001ff1c77"
    assert jbd.switch_request(True, False).hex() == "dd5ae1020002ff1b77"
    assert jbd.switch_request(False, False).hex() == "dd5ae1020003ff1a77"
    assert jbd.parse_request(jbd.switch_request(False, True)) == (0xE1, True, b"\x00\x01")
    assert jbd.parse_request(corrupt(jbd.request(3), -2)) is None


def test_corrupt_truncated_duplicated_interleaved() -> None:
    basic, cells = JBD_1
    codec = JbdCodec()
    stream = [corrupt(basic), basic[:10], b"AT\r\n", basic, basic, cells[:5], b"\xdd\x03", cells]
    frames = feed_all(codec, stream)
    assert codec.corrupt_frames >= 1
    assert basic in frames and cells in frames
    assert codec.decode(frames).cell_voltages_v == (3.909, 3.901, 3.895, 3.901)


def test_decode_without_basic_info_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        JbdCodec().decode([JBD_1[1]])


def test_encoder_round_trip() -> None:
    sample = BatterySample(
        timestamp=0, voltage_v=26.52, current_a=-31.4, soc_pct=42, charge_ah=84.0,
        capacity_ah=200.0, cycles=17, cell_voltages_v=(3.315,) * 8, temperatures_c=(21.5, -3.2),
        charge_enabled=False, discharge_enabled=True, balancing=True,
        alarms=frozenset({Alarm.CHARGE_UNDERTEMP}),
    )  # fmt: skip
    codec = JbdCodec()
    frames = feed_all(codec, [jbd.build_basic_info(sample), jbd.build_cells(sample)])
    got = codec.decode(frames, 0)
    for field in ("voltage_v", "current_a", "soc_pct", "charge_ah", "capacity_ah", "cycles",
                  "cell_voltages_v", "temperatures_c", "charge_enabled", "discharge_enabled",
                  "balancing", "alarms"):  # fmt: skip
        assert getattr(got, field) == getattr(sample, field), field


def _fix_jbd(frame: bytearray) -> None:
    frame[-3:-1] = jbd.checksum(bytes(frame[2:-3])).to_bytes(2, "big")


# payload: after DD, register, status and length; before the checksum and 77
test_fuzz = fuzz_test(JbdCodec, JBD_1, fix=_fix_jbd, payload=(4, -3))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_decode_fast_path_reads_what_the_layout_table_reads(path: Path) -> None:
    # decode() unpacks basic info with one struct; the documented table must agree with it.
    frames = [bytes.fromhex(f) for f in load(path)["frames"]]
    basic = next(f for f in frames if f[1] == jbd.REG_BASIC)
    table, temps, _ = jbd.decode_basic_info(basic)
    sample = JbdCodec().decode(frames)
    assert (sample.voltage_v, sample.current_a) == (table["voltage"], table["current"])
    assert (sample.charge_ah, sample.capacity_ah) == (table["charge"], table["capacity"])
    assert (sample.soc_pct, sample.cycles) == (table["soc"], table["cycles"])
    assert sample.temperatures_c == temps
    assert sample.extra["protection_bits"] == table["protection_bits"]
    assert sample.extra["cell_count"] == table["cell_count"]
    assert sample.extra["balance_bits"] == int(table["balance_hi"]) << 16 | int(table["balance_lo"])
    assert jbd._BASIC.size == sum(f.size for f in jbd.BASIC_INFO)


def test_short_cell_frame_is_no_crash() -> None:
    # A 0x04 reply whose length byte claims more than the frame holds (only via `decode`
    # directly: reassembly cuts by that byte) decodes the cells that are there.
    assert jbd.decode_cells(bytes.fromhex("dd0400080f450f3d")) == (3.909, 3.901)
