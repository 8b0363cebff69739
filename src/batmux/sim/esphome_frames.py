"""The device side of ESPHome's native-API framing: plaintext and Noise, over asyncio streams.

Plaintext frame: ``0x00``, varint payload length, varint message type, protobuf payload.
Noise (``Noise_NNpsk0_25519_ChaChaPoly_SHA256``, prologue ``NoiseAPIInit\\0\\0``): every frame is
``0x01``, 16-bit big-endian length, body. The client opens with an empty hello frame and its
handshake frame (``0x00`` + Noise message); the device answers a hello frame (``0x01`` protocol,
its name, NUL, its MAC, NUL) and either ``0x00`` + its Noise message or ``0x01`` + the reason
("Handshake MAC failure" for a wrong key). Afterwards each body is encrypted
``type(2) length(2) payload``. The message types and payloads are aioesphomeapi's own
``api_pb2`` classes, so the simulator and the client can never disagree about a field.
"""

from __future__ import annotations

import asyncio
import base64

from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import Message

TYPE_OF = {cls: number for number, cls in MESSAGE_TYPE_TO_PROTO.items()}
PROLOGUE = b"NoiseAPIInit\x00\x00"
NOISE_NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"


class HandshakeRefused(Exception):
    """The client's handshake did not authenticate (wrong encryption key)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


async def _read_varint(reader: asyncio.StreamReader) -> int:
    value = shift = 0
    while True:
        byte = (await reader.readexactly(1))[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7


def decode(msg_type: int, payload: bytes) -> Message | None:
    """The protobuf message of this type, or None for a type the library does not know."""
    cls = MESSAGE_TYPE_TO_PROTO.get(msg_type)
    if cls is None:
        return None
    msg = cls()
    msg.ParseFromString(payload)
    return msg


class PlainFrames:
    """Plaintext framing."""

    async def handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    def encode(self, msg: Message) -> bytes:
        payload = msg.SerializeToString()
        return b"\x00" + _varint(len(payload)) + _varint(TYPE_OF[type(msg)]) + payload

    async def read(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        preamble = (await reader.readexactly(1))[0]
        if preamble != 0x00:  # an encrypting client: a plaintext device just hangs up
            raise ConnectionError(f"preamble 0x{preamble:02x} on a plaintext device")
        length = await _read_varint(reader)
        msg_type = await _read_varint(reader)
        return msg_type, await reader.readexactly(length)


class NoiseFrames:
    """Noise framing with a base64 32-byte PSK (ESPHome's ``api: encryption: key:``)."""

    def __init__(self, psk: str, name: str, mac: str) -> None:
        from noise.connection import NoiseConnection  # only an encrypting simulator needs it

        self._proto = NoiseConnection.from_name(NOISE_NAME)
        self._proto.set_as_responder()
        self._proto.set_psks(base64.b64decode(psk))
        self._proto.set_prologue(PROLOGUE)
        self._proto.start_handshake()
        self._hello = b"\x01" + name.encode() + b"\x00" + mac.encode() + b"\x00"

    @staticmethod
    def _frame(body: bytes) -> bytes:
        return b"\x01" + len(body).to_bytes(2, "big") + body

    @staticmethod
    async def _read_frame(reader: asyncio.StreamReader) -> bytes:
        header = await reader.readexactly(3)
        if header[0] != 0x01:  # a plaintext client talking to an encrypted device
            raise ConnectionError(f"preamble 0x{header[0]:02x} on an encrypted device")
        return await reader.readexactly(int.from_bytes(header[1:], "big"))

    async def handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._read_frame(reader)  # the client hello (empty)
        client = await self._read_frame(reader)
        writer.write(self._frame(self._hello))
        try:
            if not client or client[0] != 0x00:
                raise ValueError("no handshake message")
            self._proto.read_message(client[1:])
        except Exception as exc:  # InvalidTag for a wrong key; anything else is as bad
            writer.write(self._frame(b"\x01Handshake MAC failure"))
            await writer.drain()
            raise HandshakeRefused(str(exc) or type(exc).__name__) from exc
        writer.write(self._frame(b"\x00" + bytes(self._proto.write_message())))

    def encode(self, msg: Message) -> bytes:
        payload = msg.SerializeToString()
        inner = TYPE_OF[type(msg)].to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload
        return self._frame(bytes(self._proto.encrypt(inner)))

    async def read(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        inner = bytes(self._proto.decrypt(await self._read_frame(reader)))
        length = int.from_bytes(inner[2:4], "big")
        return int.from_bytes(inner[:2], "big"), inner[4 : 4 + length]
