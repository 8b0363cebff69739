"""Victron VE.Direct text protocol: block framing and checksum (BMV/SmartShunt, MPPT).

The device pushes blocks of ``\\r\\n<label>\\t<value>`` lines (~1/s, 19200 8N1). A block ends
with ``\\r\\nChecksum\\t<byte>``; that byte makes the 8-bit sum of every byte of the block
zero. BMVs send two blocks per second (live values, then H-history). HEX frames
(``:`` … ``\\n``, see ``vedirect_hex``) may be interleaved anywhere, even mid-block; they are
not part of the sum. What the labels mean is ``vedirect_fields``.

    \\r\\nPID\\t0x203\\r\\nV\\t12065\\r\\nI\\t-7625 … \\r\\nChecksum\\tq
    (BMV-700: V 12.065 V, I −7.625 A, from karioja/vedirect test/bvm702.dump)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec, sum8
from batmux.protocols.vedirect_fields import decode_fields

CHECKSUM_LABEL = b"\r\nChecksum\t"
MAX_BLOCK = 1024  # a real block is < 300 bytes; anything longer lost its checksum line
MAX_HEX = 128  # an interleaved HEX line longer than this lost its newline


def encode_block(fields: Iterable[tuple[str, str]]) -> bytes:
    """A complete text block with its checksum byte (the simulator's encoder)."""
    body = b"".join(b"\r\n" + f"{k}\t{v}".encode("latin-1") for k, v in fields) + CHECKSUM_LABEL
    return body + bytes([(-sum8(body)) & 0xFF])


def parse_block(block: bytes) -> dict[str, str]:
    """Label → value of one verified block (``Checksum`` dropped)."""
    out: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        label, tab, value = line.partition(b"\t")
        if not tab or not label:
            raise CorruptFrame(f"line without label/tab: {line[:20]!r}")
        if label == b"Checksum":
            continue
        out[label.decode("latin-1")] = value.decode("latin-1")
    return out


class VeDirectCodec(Codec):
    """Reassembles text blocks (checksum-verified) and collects interleaved HEX frames.

    ``feed`` returns verified text blocks; HEX lines go to ``hex_frames`` for the caller.
    The first block after start is usually cut; its failed checksum is not counted.
    """

    name = "vedirect"

    def __init__(self, capacity_ah: float | None = None) -> None:
        super().__init__()
        self.capacity_ah = capacity_ah
        self.hex_frames: list[bytes] = []
        self._block = bytearray()
        self._hex: bytearray | None = None
        self._want_checksum = False
        self._synced = False

    def feed(self, chunk: bytes) -> list[bytes]:
        blocks: list[bytes] = []
        for byte in chunk:
            if self._want_checksum:  # any value, even ':' or '\n', is the checksum here
                self._want_checksum = False
                self._block.append(byte)
                self._finish(blocks)
            elif self._hex is not None:
                if byte == 0x0A:
                    self.hex_frames.append(bytes(self._hex))
                    self._hex = None
                elif len(self._hex) >= MAX_HEX:
                    self._hex = None  # runaway: no newline, drop it
                    self.reject(CorruptFrame("HEX frame without end"))
                else:
                    self._hex.append(byte)
            elif byte == 0x3A:  # ':'
                self._hex = bytearray(b":")
            else:
                self._block.append(byte)
                if len(self._block) > MAX_BLOCK:
                    self._block.clear()
                    self._fail(TruncatedFrame("text block without checksum line"))
                elif byte == 0x09 and self._block.endswith(CHECKSUM_LABEL):
                    self._want_checksum = True
        del self.hex_frames[:-16]  # nobody reading them: keep only the newest
        return blocks

    def _finish(self, blocks: list[bytes]) -> None:
        block = bytes(self._block)
        self._block.clear()
        start = block.find(b"\r\n")
        block = block[start:] if start >= 0 else block
        if sum8(block) != 0 and not self._synced:
            block = _valid_tail(block)  # joined mid-block: the lines after the cut may verify
        if sum8(block) != 0 or not block:
            self._fail(CorruptFrame(f"block checksum: sum {sum8(block):#04x}"))
            return
        self._synced = True
        blocks.append(block)

    def _fail(self, error: ProtocolError) -> None:
        if self._synced:
            self.reject(error)

    def pop_hex(self) -> list[bytes]:
        frames, self.hex_frames = self.hex_frames, []
        return frames

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        fields: dict[str, str] = {}
        for frame in frames:
            fields.update(parse_block(frame))
        return decode_fields(fields, timestamp, self.capacity_ah)


def _valid_tail(block: bytes) -> bytes:
    """The longest tail starting at a line break whose sum verifies (b"" if none)."""
    at = block.find(b"\r\n", 1)
    while at > 0:
        if sum8(block[at:]) == 0:
            return block[at:]
        at = block.find(b"\r\n", at + 1)
    return b""
