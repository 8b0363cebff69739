"""The contract every BLE codec in this folder passes: vectors, fuzz, stream faults.

Each ``tests/protocols/test_<family>.py`` calls these with its codec class;
nothing here mocks batmux logic.

The fuzz invariant (every codec's fuzz tests hold it, through ``decode_or_error``): only the
codec's own error (``ProtocolError``) escapes ``feed``/``decode``, and a sample that ``decode``
returns is plausible. Fuzz tests carry the ``fuzz`` marker; the dedicated run is
``HYPOTHESIS_PROFILE=fuzz uv run pytest -m fuzz`` (10,000 examples per test).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from batmux.core.plausibility import check_plausible
from batmux.errors import ImplausibleSample, ProtocolError
from batmux.model.sample import BatterySample
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


def decode_or_error(codec: Codec, frames: Sequence[bytes]) -> BatterySample | None:
    """``codec.decode``, holding the fuzz invariant: a ``ProtocolError`` (counted in the
    hypothesis statistics by its type) or a plausible sample, nothing else."""
    try:
        sample = codec.decode(frames, 0.0)
    except ProtocolError as exc:
        event(type(exc).__name__)
        return None
    try:
        check_plausible(sample)
    except ImplausibleSample as exc:
        raise AssertionError(f"{codec.name}: an implausible sample left decode: {exc}") from None
    event("plausible sample")
    return sample


def fuzz_test(
    codec_cls: type[Codec],
    seeds: Sequence[bytes],
    fix: Callable[[bytearray], None] | None = None,
    payload: tuple[int, int] = (0, 0),
) -> Callable[[], None]:
    """A hypothesis test: random chunks, mutated real frames; only ProtocolError may escape and
    no implausible sample may leave the codec.

    ``fix`` recomputes a frame's checksum in place: then real frames with mutated payload
    bytes (``frame[payload[0]:len + payload[1]]``) and a valid checksum reach the decoder too."""
    junk = st.binary(max_size=64)
    mutated = st.builds(
        lambda frame, pos, xor, cut: _mutate(frame, pos, xor, cut),
        st.sampled_from(list(seeds)),
        st.integers(0, 4096),
        st.integers(0, 255),
        st.integers(0, 4096),
    )
    pieces = [junk, mutated, st.sampled_from(list(seeds))]
    if fix is not None:
        frames = feed_all(codec_cls(), seeds)  # whole verified frames of the seeds
        assert frames, f"{codec_cls.__name__}: the seeds hold no complete frame"
        pieces.append(checksum_valid_mutations(frames, fix, payload))

    @pytest.mark.fuzz
    @given(st.lists(st.one_of(*pieces), max_size=12))
    def run(chunks: list[bytes]) -> None:
        codec = codec_cls()
        frames: list[bytes] = []
        for chunk in chunks:
            frames += codec.feed(chunk)
        decode_or_error(codec, frames)

    return run


def checksum_valid_mutations(
    frames: Sequence[bytes], fix: Callable[[bytearray], None], payload: tuple[int, int]
) -> st.SearchStrategy[bytes]:
    """Real frames with 1–6 payload bytes replaced and the checksum made valid again."""
    start, stop = payload

    def build(frame: bytes, changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(frame)
        end = len(data) + stop if stop <= 0 else stop
        if end > start:
            for pos, value in changes:
                data[start + pos % (end - start)] = value
        fix(data)
        return bytes(data)

    return st.builds(
        build,
        st.sampled_from(list(frames)),
        st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
    )


def _mutate(frame: bytes, pos: int, xor: int, cut: int) -> bytes:
    data = bytearray(frame)
    if data:
        data[pos % len(data)] ^= xor
    return bytes(data[: max(1, cut % (len(data) + 1))]) if cut % 3 == 0 else bytes(data)


def corrupt(frame: bytes, index: int = -5) -> bytes:
    data = bytearray(frame)
    data[index] ^= 0x5A
    return bytes(data)
