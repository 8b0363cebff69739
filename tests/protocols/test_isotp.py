"""ISO-TP segmenting and reassembly (the LEAF's LBC replies)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batmux.errors import CorruptFrame
from batmux.protocols.isotp import Reassembler, flow_control, parse_flow_control, segment


def test_a_captured_first_frame_announces_its_length() -> None:
    # shared vector nissan_leaf_lbc_samples: ``10 35 61 01 ...`` = 0x35 bytes of group 0x01
    r = Reassembler()
    assert r.feed(bytes.fromhex("10356101FFFFFC18")) is None
    assert r.in_progress and r.first_bytes == b"\x61\x01"


def test_single_frames_and_flow_control() -> None:
    assert segment(b"\x50\x81") == [bytes.fromhex("025081FFFFFFFFFF")]
    assert Reassembler().feed(bytes.fromhex("025081FFFFFFFFFF")) == b"\x50\x81"
    fc = parse_flow_control(flow_control(1))
    assert fc is not None and (fc.flag, fc.block_size, fc.st_min_s) == (0, 1, 0.0)
    assert parse_flow_control(bytes.fromhex("300020FFFFFFFFFF")).st_min_s == 0.032  # ELM327's
    assert parse_flow_control(bytes.fromhex("0221010000000000")) is None


def test_sequence_numbers_wrap_after_15() -> None:
    payload = bytes(range(198))
    frames = segment(payload)
    assert [f[0] for f in frames[15:18]] == [0x2F, 0x20, 0x21]
    r = Reassembler()
    assert [r.feed(f) for f in frames][-1] == payload


def test_a_consecutive_frame_without_a_first_frame_is_corrupt() -> None:
    with pytest.raises(CorruptFrame):
        Reassembler().feed(bytes.fromhex("210F420F420F420F"))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=600))
def test_segment_then_reassemble_round_trips(payload: bytes) -> None:
    r = Reassembler()
    out = [m for f in segment(payload) if (m := r.feed(f)) is not None]
    assert out == [payload]
