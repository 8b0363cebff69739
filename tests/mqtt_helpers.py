"""MQTT test helpers: a recorder that keeps the last payload per topic, a running gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from batmux.runtime.app import Gateway


class Recorder:
    """Subscribes to everything and keeps the last payload per topic."""

    def __init__(self, url_port: int) -> None:
        self.port = url_port
        self.messages: dict[str, bytes] = {}
        self.client: aiomqtt.Client | None = None

    def json(self, topic: str) -> Any:
        return json.loads(self.messages[topic])

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port) as client:
                    self.client = client
                    await client.subscribe("#")
                    async for message in client.messages:
                        self.messages[str(message.topic)] = bytes(message.payload)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(gateway: Gateway) -> AsyncIterator[Gateway]:
    task = asyncio.create_task(gateway.run())
    try:
        yield gateway
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def recording(port: int) -> AsyncIterator[Recorder]:
    rec = Recorder(port)
    task = asyncio.create_task(rec.run())
    try:
        yield rec
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
