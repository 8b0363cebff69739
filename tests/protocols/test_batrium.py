"""Batrium WatchMon native CAN codec: layout, base id, 29-bit only, bad frames, fuzz.

No public Batrium capture exists (can-modbus.md §5); the frames here are the hand-built set
of tests/vectors/peers/batrium (checked there against baycom/batrium2goodwe's parsers).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.cli import decode_frames
from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.protocols import batrium as b
from batmux.protocols.candump import pack

PEER = Path(__file__).parents[1] / "vectors" / "peers" / "batrium"
FRAMES: list[str] = json.loads((PEER / "batrium2goodwe_layout_handbuilt.json").read_text())[
    "frames"
]


def at_base(base: int) -> list[str]:
    """The same frames moved to another base id."""
    return [f"{base + int(f[:8], 16) - 0x500:08X}#{f[9:]}" for f in FRAMES]


def test_decode_takes_a_capture_in_order_and_the_last_frame_of_an_id_wins() -> None:
    later_shunt = "00000504#1E023200F401"  # 54.2 V, +5.0 A charging
    out = decode_frames("batrium", [*FRAMES, later_shunt])
    assert (out["voltage"], out["current"], out["power"]) == (54.2, 5.0, 271.0)
    assert out["soc"] == 77.0 and out["temperatures"] == [23, 25]


def test_another_base_id_is_read_with_the_key() -> None:
    moved = at_base(0x18FF0000)
    with pytest.raises(ProtocolError, match="no shunt frame"):
        decode_frames("batrium", moved)
    out = decode_frames("batrium", moved, key="0x18FF0000")
    assert out["voltage"] == 53.2 and out["discharge_current_limit"] == 100.0
    codec = b.BatriumCodec(0x600)
    frames = [p for f in at_base(0x600) for p in codec.feed(f)]
    assert codec.decode(frames).charge_ah == 77.0


def test_standard_id_look_alikes_are_dropped_and_counted() -> None:
    codec = b.BatriumCodec()
    assert codec.feed("504#1402CEFFE5FF") == []  # 11-bit 0x504: another device's frame
    assert codec.feed((0x504, bytes.fromhex("1402CEFFE5FF"), False)) == []
    assert codec.standard_frames == 2 and codec.corrupt_frames == 0
    assert codec.feed((0x504, bytes.fromhex("1402CEFFE5FF"), True))
    assert codec.feed(pack((0x504, bytes.fromhex("1402CEFFE5FF"))))  # flag unknown: by number
    with pytest.raises(ProtocolError, match="11-bit frames ignored"):
        decode_frames("batrium", ["504#1402CEFFE5FF"])


def test_short_unknown_and_malformed_frames_are_counted() -> None:
    codec = b.BatriumCodec()
    assert codec.feed("00000504#1402CE") == []  # 3 of 6 bytes
    assert codec.feed("00000509#00") == []  # not a native-CAN offset
    assert codec.feed("00000504#ZZ") == []
    assert codec.feed(b"\x00\x01") == []
    assert codec.corrupt_frames == 3 and codec.unknown_frames == 1


def test_negative_soc_is_clamped_and_a_critical_trip_is_a_fault() -> None:
    frames = [f for f in FRAMES if not f.startswith(("00000505", "00000507"))]
    out = decode_frames("batrium", [*frames, "00000505#0CFE10270000E803", "00000507#000100000000"])
    assert out["soc"] == 0 and out["soc_raw"] == -5.0
    assert out["alarms"] == [str(Alarm.BMS_FAULT)]
    assert out["charge_enabled"] is True and out["discharge_enabled"] is False


def test_base_id_must_fit_29_bits() -> None:
    with pytest.raises(ProtocolError):
        b.BatriumCodec(0x1FFFFFFF)


def test_encode_is_the_inverse_of_the_layout() -> None:
    can_id, data = b.encode(0x500, b.SHUNT, {"voltage": 53.2, "current": -5.0, "shunt_power": -270})
    assert f"{can_id:08X}#{data.hex().upper()}" == FRAMES[4]


@given(st.integers(0x4F0, 0x51F), st.binary(max_size=12), st.sampled_from([None, True, False]))
def test_fuzz_feed_and_decode_raise_only_protocol_errors(
    can_id: int, data: bytes, extended: bool | None
) -> None:
    codec = b.BatriumCodec()
    frames = [p for f in FRAMES for p in codec.feed(f)]
    chunk = (can_id, data) if extended is None else (can_id, data, extended)
    frames += codec.feed(chunk)
    with contextlib.suppress(ProtocolError):
        codec.decode(frames)


@given(st.text(max_size=40))
def test_fuzz_text_frames(text: str) -> None:
    codec = b.BatriumCodec()
    frames = codec.feed(text) + codec.feed(text.encode("utf-8", "replace"))
    with contextlib.suppress(ProtocolError):
        codec.decode(frames)
