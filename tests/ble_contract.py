"""The contract every BLE codec in this folder passes: vectors, fuzz, stream faults.

Each ``tests/protocols/test_<family>.py`` calls these with its codec class;
nothing here mocks batmux logic.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import ProtocolError
from batmux.protocols.base import Codec
from conftest import VECTORS as _SHARED_VECTORS
from helpers import values_equal

VECTORS = _SHARED_VECTORS / "ble"


def vectors(family: str) -> list[Path]:
    """``daly`` → daly_1, daly_2 (not daly_modbus_*)."""
    return sorted(
        p for p in VECTORS.glob(f"{family}_*.json") if p.stem[len(family) + 1 :].isdigit()
    )


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def feed_all(codec: Codec, chunks: Sequence[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames += codec.feed(chunk)
    return frames


def check_vector(codec_cls: type[Codec], path: Path, whole_frames: bool = False) -> None:
    """Every key of ``expected`` equals the decoded sample's JSON (fields plus extras).

    ``whole_frames``: each stored notification is one complete frame (no reassembly needed).
    """
    notifications = [bytes.fromhex(f) for f in load(path)["frames"]]
    codec = codec_cls()
    frames = feed_all(codec, notifications)
    if whole_frames:
        assert len(frames) == len(notifications)
    sample = codec.decode(frames, 1.0)
    assert codec.corrupt_frames == 0
    got = sample.to_json()
    expected = load(path)["expected"]
    wrong = {k: (got.get(k), v) for k, v in expected.items() if not values_equal(got.get(k), v)}
    assert not wrong, f"{path.name}: (got, expected) {wrong}"
    if sample.current_a is not None and sample.voltage_v is not None:
        assert values_equal(sample.power_w, sample.voltage_v * sample.current_a)


def vector_chunks(path: Path, size: int = 20) -> list[bytes]:
    """The vector's byte stream re-split into ``size``-byte notifications."""
    stream = b"".join(bytes.fromhex(f) for f in load(path)["frames"])
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def fuzz_test(codec_cls: type[Codec], seeds: Sequence[bytes]) -> Callable[[], None]:
    """A hypothesis test: random chunks, mutated real frames; only ProtocolError may escape."""
    junk = st.binary(max_size=64)
    mutated = st.builds(
        lambda frame, pos, xor, cut: _mutate(frame, pos, xor, cut),
        st.sampled_from(list(seeds)),
        st.integers(0, 4096),
        st.integers(0, 255),
        st.integers(0, 4096),
    )

    @given(st.lists(st.one_of(junk, mutated, st.sampled_from(list(seeds))), max_size=12))
    def run(chunks: list[bytes]) -> None:
        codec = codec_cls()
        frames: list[bytes] = []
        for chunk in chunks:
            frames += codec.feed(chunk)
        with contextlib.suppress(ProtocolError):
            codec.decode(frames, 0.0)

    return run


def _mutate(frame: bytes, pos: int, xor: int, cut: int) -> bytes:
    data = bytearray(frame)
    if data:
        data[pos % len(data)] ^= xor
    return bytes(data[: max(1, cut % (len(data) + 1))]) if cut % 3 == 0 else bytes(data)


def corrupt(frame: bytes, index: int = -5) -> bytes:
    data = bytearray(frame)
    data[index] ^= 0x5A
    return bytes(data)
