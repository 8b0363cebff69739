"""candump line parsing/formatting."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batmux.errors import ProtocolError
from batmux.protocols.candump import format_frame, format_line, pack, parse_line, unpack


def test_logged_line() -> None:
    r = parse_line("(1436509052.249713) can0 351#1402C012C012C201\n")
    assert r.arbitration_id == 0x351
    assert r.data == bytes.fromhex("1402C012C012C201")
    assert r.timestamp == pytest.approx(1436509052.249713)
    assert r.channel == "can0"
    assert not r.extended


def test_bare_and_extended_and_empty() -> None:
    assert parse_line("35C#C000").frame == (0x35C, b"\xc0\x00")
    ext = parse_line("18FF50E5#0102")
    assert ext.extended and ext.arbitration_id == 0x18FF50E5
    assert parse_line("305#").data == b""
    assert parse_line("305#00.00.00").data == bytes(3)  # cansend dotted form


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello",
        "351#1",
        "351#" + "00" * 9,
        "800#00",
        "351##0112",
        "351#R",
        "(x) can0 351#00",
        "3G1#00",
        "2000000000#00",
    ],
)
def test_malformed(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_line(line)


def test_format_roundtrip() -> None:
    line = format_line(0x110, bytes.fromhex("0920064001000100"), 12.5, "vcan0")
    assert line == "(12.500000) vcan0 110#0920064001000100"
    assert parse_line(line).frame == (0x110, bytes.fromhex("0920064001000100"))
    assert format_frame(0x18FF50E5, b"\x01") == "18FF50E5#01"
    assert unpack(pack((0x351, b"\x01\x02"))) == (0x351, b"\x01\x02")


@pytest.mark.fuzz
@given(st.text(max_size=40))
def test_fuzz_only_protocol_errors(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        parse_line(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0x7FF), st.binary(max_size=8))
def test_roundtrip_property(can_id: int, data: bytes) -> None:
    assert parse_line(format_frame(can_id, data)).frame == (can_id, data)


def test_packed_frame_with_hash_byte_is_not_text() -> None:
    """A packed frame whose data holds 0x23 ('#') was parsed as candump text and dropped."""
    from batmux.protocols.can_codec import to_frame
    from batmux.protocols.candump import pack

    data = bytes.fromhex("D80CDA0C21012301")  # real Pytes 0x373: 0x23 twice
    assert to_frame(pack((0x373, data))) == (0x373, data)
    assert to_frame(pack((0x09000351, b"#"))) == (0x09000351, b"#")  # id byte = tab
    assert to_frame(b"373#D80CDA0C21012301") == (0x373, data)
    assert to_frame(b" 373#D80CDA0C21012301") == (0x373, data)
