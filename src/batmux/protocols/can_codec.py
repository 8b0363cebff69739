"""The ``Codec`` contract for broadcast CAN protocols (a battery reading its frames as a source).

A CAN battery streams independent frames, so ``feed()`` takes one frame, not a byte stream:
a candump text (``"351#1402C012C012C201"`` or a ``candump -L`` line), the same text as ASCII
bytes, an ``(id, data)`` tuple, or the packed form (4-byte big-endian id + data) that ``feed``
returns. ``decode(frames)`` uses the newest payload per id among ``frames``.

Malformed frames (bad text, wrong length) count in ``corrupt_frames``; frames of ids the
protocol does not know (other devices on the bus, the inverter's own frames) count in
``unknown_frames``. Both are dropped.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec, Field
from batmux.protocols.candump import Frame, pack, parse_line, unpack

FrameInput = bytes | bytearray | str | Frame


def to_frame(chunk: FrameInput) -> Frame:
    """Any accepted input form → (id, data); ``ProtocolError`` when it is none of them."""
    if isinstance(chunk, tuple):
        can_id, data = chunk
        return int(can_id), bytes(data)
    if isinstance(chunk, bytes | bytearray):
        return _from_bytes(bytes(chunk))
    return parse_line(chunk).frame


def _from_bytes(chunk: bytes) -> Frame:
    """Candump text as bytes, or a packed frame. A packed frame starts with its 4-byte id,
    whose first byte is at most 0x1F (29-bit ids), so it never starts like a text line; its
    data bytes may hold anything, 0x23 ('#') included, and must not decide."""
    packed = bool(chunk) and chunk[0] < 0x20
    if packed and not chunk[:1].isspace():
        return unpack(chunk)
    try:
        return parse_line(chunk.decode("ascii")).frame
    except (UnicodeDecodeError, CorruptFrame) as exc:
        if packed:  # a tab/newline-valued first id byte: not text after all
            return unpack(chunk)
        raise CorruptFrame("neither candump text nor a packed CAN frame") from exc


class CanCodec(Codec):
    """Feed one frame at a time; decode the newest frame of every id."""

    min_length: ClassVar[Mapping[int, int]]  # known id → minimum data length

    def __init__(self) -> None:
        super().__init__()
        self.unknown_frames = 0

    def parse_cli_frame(self, text: str) -> bytes:
        """One ``batmux decode`` argument in candump syntax (``351#1402C0...``) → packed frame."""
        return pack(parse_line(text).frame)

    def frame_key(self, can_id: int, data: bytes) -> Hashable:
        """What a newer frame replaces: the id, or (id, mux) for a multiplexed id."""
        return can_id

    def feed(self, chunk: FrameInput) -> list[bytes]:  # type: ignore[override]
        try:
            can_id, data = to_frame(chunk)
        except (ProtocolError, ValueError, TypeError) as exc:
            self.reject(exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))
            return []
        need = self.min_length.get(can_id)
        if need is None:
            self.unknown_frames += 1
            return []
        if len(data) < need or len(data) > 8:
            self.reject(TruncatedFrame(f"0x{can_id:03X}: {len(data)} bytes, need {need}..8"))
            return []
        return [pack((can_id, data))]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        latest: dict[Any, bytes] = {}  # keyed by ``frame_key``: the id, or (id, mux)
        for packed in frames:
            can_id, data = unpack(packed)
            if can_id in self.min_length and len(data) >= self.min_length[can_id]:
                latest[self.frame_key(can_id, data)] = data
        return self.decode_latest(latest, timestamp)

    def decode_latest(self, latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
        raise NotImplementedError


def encode_fields(
    table: Sequence[Field], values: Mapping[str, float | None], length: int = 8
) -> bytes:
    """The inverse of ``read_table``: scaled values → bytes, clamped to each field's range.

    Missing or None values stay zero; a value too big for its field is sent as the field's
    maximum rather than wrapping round (an 8000 A limit must not become a small one).
    """
    buf = bytearray(length)
    for f in table:
        value = values.get(f.name)
        if value is None or f.offset + f.size > length:  # short variants drop trailing fields
            continue
        raw = round(value / f.scale)
        bits = 8 * f.size
        low, high = (
            (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if f.signed else (0, (1 << bits) - 1)
        )
        raw = min(max(raw, low), high)
        buf[f.offset : f.offset + f.size] = raw.to_bytes(f.size, f.byteorder, signed=f.signed)  # type: ignore[arg-type]
    return bytes(buf)


def ascii_text(data: bytes) -> str:
    """NUL/space-padded ASCII → text; other bytes are dropped rather than trusted."""
    return "".join(chr(b) for b in data if 0x20 <= b < 0x7F).strip()


def decode_candump_frames(
    protocol: str, args: Sequence[str], timestamp: float = 0.0
) -> BatterySample:
    """``batmux decode pylontech_can 351#... 356#...``: each arg is one candump frame."""
    codec = can_codec(protocol)
    frames = [f for arg in args for f in codec.feed(arg)]
    if not frames and codec.last_error is not None:
        raise codec.last_error
    return codec.decode(frames, timestamp)


CAN_CODECS = {
    "pylontech_can": "batmux.protocols.pylontech_can:PylontechCanCodec",
    "byd_can": "batmux.protocols.byd_can:BydCanCodec",
    "sma_byd_hvs": "batmux.protocols.byd_can:SmaBydHvsCodec",
    "nissan_leaf": "batmux.protocols.nissan_leaf:NissanLeafCodec",
    "tesla_model3": "batmux.protocols.tesla_model3:TeslaModel3Codec",
}


def can_codec(protocol: str) -> CanCodec:
    """A fresh codec for a CAN protocol name (lazy import, like the device registry)."""
    import importlib

    try:
        module, _, cls = CAN_CODECS[protocol].partition(":")
    except KeyError:
        known = ", ".join(sorted(CAN_CODECS))
        raise ProtocolError(f"unknown CAN protocol {protocol!r}; known: {known}") from None
    return getattr(importlib.import_module(module), cls)()
