"""The sans-I/O codec contract every protocol family implements.

    codec = JkCodec()
    frames = codec.feed(notification)      # reassembly: complete, verified frames only
    sample = codec.decode(frames, now)     # frames of one response → BatterySample

``feed`` never raises: a corrupt or truncated frame is dropped, counted in ``corrupt_frames``
and remembered in ``last_error`` (so "corrupt" never looks like "timeout"). ``decode`` raises
only ``ProtocolError`` (or a subclass) when the frames cannot make a sample.

Every sample a codec returns has passed ``core.plausibility.check_plausible``: the base class
wraps each subclass's ``decode`` and ``decode_with_key`` once, at class creation, so a
checksum-valid frame with impossible values raises ``ImplausibleSample`` (a ``ProtocolError``)
from every codec alike, and drivers, ``batmux decode`` and the fuzz tests all see it.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from zlib import adler32

from batmux.core.plausibility import check_plausible
from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.sample import BatterySample

_CHECKED_METHODS = ("decode", "decode_with_key")


def _checked(method: Callable[..., BatterySample]) -> Callable[..., BatterySample]:
    """``method`` whose sample must be plausible; a nested call (a codec delegating to its
    parent's or another codec's decode) is checked once, by the outermost call."""

    @functools.wraps(method)
    def decode(self: Codec, *args: Any, **kwargs: Any) -> BatterySample:
        if getattr(self, "_decoding", False):
            return method(self, *args, **kwargs)
        self._decoding = True
        try:
            sample = method(self, *args, **kwargs)
        finally:
            self._decoding = False
        check_plausible(sample)
        return sample

    decode.__plausibility_checked__ = True  # type: ignore[attr-defined]
    return decode


class Codec(ABC):
    """Frame reassembly plus decoding for one protocol family."""

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in _CHECKED_METHODS:
            method = cls.__dict__.get(attr)
            if callable(method) and not getattr(method, "__plausibility_checked__", False):
                setattr(cls, attr, _checked(method))

    def __init__(self) -> None:
        self.corrupt_frames = 0
        self.last_error: ProtocolError | None = None
        self._decoding = False

    @abstractmethod
    def feed(self, chunk: bytes) -> list[bytes]:
        """Take one notification/read; return every complete frame that passed its checks."""

    @abstractmethod
    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        """Turn the frames of one response (or set of responses) into a sample."""

    def parse_cli_frame(self, text: str) -> bytes:
        """One FRAME argument of ``batmux decode`` (hex, spaces and colons allowed)."""
        cleaned = "".join(text.split()).replace(":", "")
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            raise ProtocolError(f"not a hex frame: {text[:40]!r}") from None

    def reject(self, error: ProtocolError) -> None:
        """Count and remember a dropped frame."""
        self.corrupt_frames += 1
        self.last_error = error


class ResyncCodec(Codec):
    """Reassembly for byte streams whose frames start with a marker.

    Find the marker, learn the frame's length, verify the whole frame; on any failure drop one
    byte and search again, so a bad frame never swallows the good one behind it. A family says
    only what is particular to it: ``header``, ``frame_length`` and ``check``.
    """

    header: ClassVar[bytes]
    max_buffer: ClassVar[int] = 1024

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._awaiting = 0  # length of the frame at buffer[0] still being received, else 0

    def find_start(self, buf: bytearray) -> int:
        return buf.find(self.header)

    @abstractmethod
    def frame_length(self, buf: bytearray) -> int | None:
        """Length of the frame at ``buf[0]``; None if more bytes are needed to know, 0 if the
        marker at ``buf[0]`` is data rather than a frame start."""

    @abstractmethod
    def check(self, frame: bytes) -> str | None:
        """Why a complete frame is corrupt, or None when it is good."""

    def on_frame(self, frame: bytes) -> None:
        """Hook for frames that set codec state (device info, settings)."""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buffer
        buf += chunk
        if len(buf) < self._awaiting:  # mid-frame: nothing to search until the frame is whole
            return []
        self._awaiting = 0
        frames: list[bytes] = []
        while True:
            start = self.find_start(buf)
            if start < 0:
                del buf[: max(0, len(buf) - len(self.header) + 1)]  # keep a partial marker
                break
            del buf[:start]
            total = self.frame_length(buf)
            if total == 0:
                del buf[:1]
                continue
            if total is None or len(buf) < total:
                if len(buf) <= self.max_buffer:
                    if total is not None and total <= self.max_buffer:
                        self._awaiting = total
                    break  # wait for the rest
                self.reject(TruncatedFrame(f"{self.name}: no complete frame in {len(buf)} bytes"))
                del buf[:1]
                continue
            frame = bytes(buf[:total])
            reason = self.check(frame)
            if reason is not None:
                self.reject(CorruptFrame(f"{self.name}: {reason}"))
                del buf[:1]
                continue
            del buf[:total]
            frames.append(frame)
            self.on_frame(frame)
        return frames


@dataclass(frozen=True, slots=True)
class Field:
    """One entry of a byte-layout table: name, offset, size, signedness, scale."""

    name: str
    offset: int
    size: int
    signed: bool = False
    scale: float = 1.0
    byteorder: str = "little"

    def read(self, frame: bytes, shift: int = 0) -> float:
        start = self.offset + shift
        raw = int.from_bytes(frame[start : start + self.size], self.byteorder, signed=self.signed)  # type: ignore[arg-type]
        return raw * self.scale if self.scale != 1.0 else raw


def read_table(table: Sequence[Field], frame: bytes, shift: int = 0) -> dict[str, float]:
    """Read every field of a layout table; rounding hides float noise from the scale."""
    return {f.name: round(f.read(frame, shift), 6) for f in table}


def sum8(data: bytes | bytearray | memoryview) -> int:
    """Low byte of the byte sum.

    Done in C: Adler-32's low half is 1 + Σ bytes (mod 65521), and 256 bytes sum to at most
    65280, so per 256-byte piece ``adler32 & 0xFFFF`` - 1 is that piece's exact byte sum.
    """
    n = len(data)
    if n <= 256:
        return ((adler32(data) & 0xFFFF) - 1) & 0xFF
    if n <= 512:  # e.g. a 300-byte JK frame: two pieces, no loop
        return ((adler32(data[:256]) & 0xFFFF) + (adler32(data[256:]) & 0xFFFF) - 2) & 0xFF
    total = 0
    view = memoryview(data)
    for start in range(0, len(view), 256):
        total += (adler32(view[start : start + 256]) & 0xFFFF) - 1
    return total & 0xFF


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def modbus_crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), one table lookup per byte."""
    crc = 0xFFFF
    table = _CRC16_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def require_length(frame: bytes, length: int, what: str) -> None:
    if len(frame) < length:
        raise TruncatedFrame(f"{what}: {len(frame)} bytes, need {length}")
