"""ISO-TP (ISO 15765-2) on classic CAN, sans-I/O: segmenting and reassembling diagnostic replies.

The first nibble of byte 0 (the PCI) says what a frame is:

    0x0L               single frame, L payload bytes follow (L ≤ 7)
    0x1L LL + 6 bytes  first frame, 12-bit total length, the first 6 payload bytes
    0x2N + 7 bytes     consecutive frame, sequence number N = 1, 2, … 15, 0, 1, …
    0x30 BS ST         flow control "continue": BS frames before the next flow control
                       (0 = all), ST = minimum gap in ms between consecutive frames

Used by the Nissan LEAF reader (LBC polling 0x79B → 0x7BB) and its simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from batmux.errors import CorruptFrame, ProtocolError

SINGLE, FIRST, CONSECUTIVE, FLOW = 0x0, 0x1, 0x2, 0x3
PAD = 0xFF
MAX_LENGTH = 0xFFF


def segment(payload: bytes, pad: int = PAD) -> list[bytes]:
    """A whole message → the 8-byte frames that carry it (single, or first + consecutive)."""
    if len(payload) > MAX_LENGTH:
        raise ProtocolError(f"ISO-TP message of {len(payload)} bytes (max {MAX_LENGTH})")
    if len(payload) <= 7:
        return [bytes([len(payload)]) + payload.ljust(7, bytes([pad]))]
    frames = [bytes([0x10 | len(payload) >> 8, len(payload) & 0xFF]) + payload[:6]]
    rest = payload[6:]
    for seq, start in enumerate(range(0, len(rest), 7), start=1):
        frames.append(bytes([0x20 | seq & 0x0F]) + rest[start : start + 7].ljust(7, bytes([pad])))
    return frames


def flow_control(block_size: int = 0, st_min_ms: int = 0, pad: int = PAD) -> bytes:
    """A "continue to send" flow control frame."""
    return bytes([0x30, block_size & 0xFF, st_min_ms & 0xFF]) + bytes([pad]) * 5


@dataclass(frozen=True, slots=True)
class FlowControl:
    flag: int  # 0 continue, 1 wait, 2 overflow
    block_size: int
    st_min_s: float


def parse_flow_control(data: bytes) -> FlowControl | None:
    """The flow control in ``data``, or None when it is another kind of frame."""
    if len(data) < 3 or data[0] >> 4 != FLOW:
        return None
    st = data[2]
    st_min_s = st / 1000 if st <= 0x7F else (st - 0xF0) / 10000 if 0xF1 <= st <= 0xF9 else 0.127
    return FlowControl(data[0] & 0x0F, data[1], st_min_s)


def kind(data: bytes) -> int | None:
    return data[0] >> 4 if data else None


class Reassembler:
    """Feed the frames of one sender in order; ``feed`` returns each complete message once.

    A frame that cannot continue the message in progress (wrong sequence number, a consecutive
    frame with nothing in progress, a bad length) raises ``CorruptFrame`` and drops the
    message: the caller counts it. A new first or single frame always restarts.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length = 0
        self._next_seq = 0

    @property
    def in_progress(self) -> bool:
        return self._length > 0

    @property
    def first_bytes(self) -> bytes:
        """What the message in progress starts with (for a poller deciding whose reply it is)."""
        return bytes(self._buffer[:2])

    def reset(self) -> None:
        self._buffer.clear()
        self._length = 0

    def feed(self, data: bytes) -> bytes | None:
        pci = kind(data)
        if pci == SINGLE:
            self.reset()
            length = data[0] & 0x0F
            if not 1 <= length <= min(7, len(data) - 1):
                raise CorruptFrame(f"ISO-TP single frame of length {length} in {len(data)} bytes")
            return bytes(data[1 : 1 + length])
        if pci == FIRST:
            self.reset()
            length = (data[0] & 0x0F) << 8 | (data[1] if len(data) > 1 else 0)
            if length < 8 or len(data) < 8:
                raise CorruptFrame(f"ISO-TP first frame of length {length} in {len(data)} bytes")
            self._buffer += data[2:8]
            self._length, self._next_seq = length, 1
            return None
        if pci == CONSECUTIVE:
            if not self.in_progress:
                raise CorruptFrame("ISO-TP consecutive frame without a first frame")
            if data[0] & 0x0F != self._next_seq or len(data) < 2:
                expected = self._next_seq
                self.reset()
                raise CorruptFrame(
                    f"ISO-TP consecutive frame {data[0] & 0x0F}, expected {expected}"
                )
            self._next_seq = (self._next_seq + 1) & 0x0F
            self._buffer += data[1 : 1 + min(7, self._length - len(self._buffer))]
            if len(self._buffer) < self._length:
                return None
            message = bytes(self._buffer)
            self.reset()
            return message
        return None  # flow control (or an empty frame) carries no payload
