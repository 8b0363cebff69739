"""A small embedded MQTT 3.1.1 broker for ``batmux demo`` and for tests on machines without
mosquitto: QoS 0/1, retained messages, wildcards, last will, keep-alive ping. Loopback use only:
no authentication, no persistence, no QoS 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14


def topic_matches(pattern: str, topic: str) -> bool:
    pat, top = pattern.split("/"), topic.split("/")
    if topic.startswith("$") and pat[0] in ("#", "+"):
        return False
    for i, part in enumerate(pat):
        if part == "#":
            return True
        if i >= len(top) or (part != "+" and part != top[i]):
            return False
    return len(pat) == len(top)


def _encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([ptype << 4 | flags]) + _encode_length(len(body)) + body


def _str(data: bytes, pos: int) -> tuple[bytes, int]:
    n = int.from_bytes(data[pos : pos + 2], "big")
    return data[pos + 2 : pos + 2 + n], pos + 2 + n


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    client_id: str = ""
    subscriptions: dict[str, int] = field(default_factory=dict)
    will: tuple[str, bytes, int, bool] | None = None
    next_id: int = 0

    def packet_id(self) -> int:
        self.next_id = self.next_id % 65535 + 1
        return self.next_id


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.retained: dict[str, tuple[bytes, int]] = {}
        self.clients: set[_Client] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for client in list(self.clients):
                client.writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _read_packet(self, reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
        head = await reader.readexactly(1)
        length, mult = 0, 1
        for _ in range(4):
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * mult
            mult *= 128
            if not byte & 0x80:
                break
        body = await reader.readexactly(length)
        return head[0] >> 4, head[0] & 0x0F, body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        clean = False
        try:
            ptype, _, body = await asyncio.wait_for(self._read_packet(reader), 10)
            if ptype != CONNECT:
                return
            self._on_connect(client, body)
            self.clients.add(client)
            writer.write(_packet(CONNACK, 0, b"\x00\x00"))
            while True:
                ptype, flags, body = await self._read_packet(reader)
                if ptype == PUBLISH:
                    self._on_publish(client, flags, body)
                elif ptype == SUBSCRIBE:
                    self._on_subscribe(client, body)
                elif ptype == UNSUBSCRIBE:
                    self._on_unsubscribe(client, body)
                elif ptype == PINGREQ:
                    writer.write(_packet(PINGRESP, 0, b""))
                elif ptype == DISCONNECT:
                    clean = True
                    return
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, IndexError, ValueError):
            pass
        finally:
            self.clients.discard(client)
            if not clean and client.will is not None:
                self.route(*client.will)
            writer.close()

    def _on_connect(self, client: _Client, body: bytes) -> None:
        _, pos = _str(body, 0)  # protocol name
        flags = body[pos + 1]
        pos += 4  # level, flags, keepalive
        cid, pos = _str(body, pos)
        client.client_id = cid.decode(errors="replace")
        if flags & 0x04:
            topic, pos = _str(body, pos)
            message, pos = _str(body, pos)
            client.will = (topic.decode(), message, (flags >> 3) & 3, bool(flags & 0x20))

    def _on_publish(self, client: _Client, flags: int, body: bytes) -> None:
        qos, retain = (flags >> 1) & 3, bool(flags & 1)
        topic, pos = _str(body, 0)
        if qos:
            packet_id = body[pos : pos + 2]
            pos += 2
            client.writer.write(_packet(PUBACK, 0, packet_id))
        self.route(topic.decode(), body[pos:], qos, retain)

    def route(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            if payload:
                self.retained[topic] = (payload, qos)
            else:
                self.retained.pop(topic, None)
        for client in list(self.clients):
            granted = max(
                (q for p, q in client.subscriptions.items() if topic_matches(p, topic)),
                default=None,
            )
            if granted is not None:
                self._send(client, topic, payload, min(qos, granted), False)

    def _send(self, client: _Client, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        raw = topic.encode()
        body = len(raw).to_bytes(2, "big") + raw
        if qos:
            body += client.packet_id().to_bytes(2, "big")
        flags = (qos << 1) | int(retain)
        with contextlib.suppress(Exception):
            client.writer.write(_packet(PUBLISH, flags, body + payload))

    def _on_subscribe(self, client: _Client, body: bytes) -> None:
        packet_id, pos, granted = body[:2], 2, bytearray()
        new: list[tuple[str, int]] = []
        while pos < len(body):
            pattern, pos = _str(body, pos)
            qos = min(body[pos], 1)
            pos += 1
            client.subscriptions[pattern.decode()] = qos
            new.append((pattern.decode(), qos))
            granted.append(qos)
        client.writer.write(_packet(SUBACK, 0, packet_id + bytes(granted)))
        for topic, (payload, qos) in list(self.retained.items()):
            for pattern, sub_qos in new:
                if topic_matches(pattern, topic):
                    self._send(client, topic, payload, min(qos, sub_qos), True)
                    break

    def _on_unsubscribe(self, client: _Client, body: bytes) -> None:
        packet_id, pos = body[:2], 2
        while pos < len(body):
            pattern, pos = _str(body, pos)
            client.subscriptions.pop(pattern.decode(), None)
        client.writer.write(_packet(UNSUBACK, 0, packet_id))
