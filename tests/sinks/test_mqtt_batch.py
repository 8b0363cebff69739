"""The MQTT sink's batched publishing: order kept, errors raised, one await per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import pytest

from batmux.sinks.mqtt import _publish, _publish_nowait
from conftest import free_port


@pytest.mark.parametrize("qos", [0, 1])
async def test_queued_messages_arrive_in_order_before_the_awaited_last_one(
    broker: Any, qos: int
) -> None:
    received: list[tuple[str, bytes]] = []
    async with aiomqtt.Client(broker.host, broker.port) as sub:
        await sub.subscribe("batch/#")
        async with aiomqtt.Client(broker.host, broker.port) as pub:
            for i in range(20):
                _publish_nowait(pub, f"batch/{i}", f"{i}".encode(), qos=qos)
            await _publish(pub, "batch/last", b"last", qos=qos)

        async def collect() -> None:
            async for message in sub.messages:
                received.append((str(message.topic), bytes(message.payload)))
                if message.topic.value == "batch/last":
                    return

        await asyncio.wait_for(collect(), 10)
    expected = [(f"batch/{i}", f"{i}".encode()) for i in range(20)] + [("batch/last", b"last")]
    assert received == expected


async def test_queueing_on_a_client_that_is_not_connected_raises() -> None:
    client = aiomqtt.Client("127.0.0.1", free_port())
    with pytest.raises(aiomqtt.MqttCodeError):
        _publish_nowait(client, "batch/x", b"x", retain=True)
