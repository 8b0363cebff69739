"""The MQTT sink's batched publishing: order kept, errors raised, one await per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import pytest

from batmux.sinks.mqtt import _flush, _publish, _publish_nowait
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


def _writer_registered(client: aiomqtt.Client) -> bool:
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    key = selector.get_map().get(client._client.socket().fileno())
    return key is not None and key.data[1] is not None  # (reader, writer) handles


async def test_a_flushed_batch_is_written_without_a_writer_wake_up(broker: Any) -> None:
    """``_publish_nowait`` + ``_flush``: written from the caller, no self-pipe wake-up, no
    writer left registered (one left behind on a writable socket would spin the loop), and
    paho's on_publish is back in place for the next awaited publish."""
    loop = asyncio.get_running_loop()
    received: list[str] = []
    async with aiomqtt.Client(broker.host, broker.port) as sub:
        await sub.subscribe("flush/#")
        async with aiomqtt.Client(broker.host, broker.port) as pub:
            on_publish = pub._client.on_publish
            wakeups: list[Any] = []
            real = loop.call_soon_threadsafe
            loop.call_soon_threadsafe = lambda *a, **k: (wakeups.append(a), real(*a, **k))[1]  # type: ignore[method-assign]
            try:
                for i in range(5):
                    _publish_nowait(pub, f"flush/{i}", str(i).encode(), retain=False)
                assert len(pub._client._out_packet) == 5  # queued, nothing written yet
                _flush(pub)
            finally:
                del loop.call_soon_threadsafe
            assert wakeups == [] and pub._client._out_packet == type(pub._client._out_packet)()
            assert not _writer_registered(pub) and pub._client.on_publish == on_publish
            await _publish(pub, "flush/last", b"last", qos=1)  # awaited: confirmed as before
            await asyncio.sleep(0.05)
            assert not _writer_registered(pub)

            async def collect() -> None:
                async for message in sub.messages:
                    received.append(str(message.topic))
                    if message.topic.value == "flush/last":
                        return

            await asyncio.wait_for(collect(), 10)
    assert received == [f"flush/{i}" for i in range(5)] + ["flush/last"]


async def test_queued_messages_ride_along_with_an_awaited_publish(broker: Any) -> None:
    """An awaited publish between queued ones registers aiomqtt's writer, which writes them all;
    the flush after it has nothing left to do."""
    async with aiomqtt.Client(broker.host, broker.port) as pub:
        _publish_nowait(pub, "ride/0", b"0")
        await _publish(pub, "ride/1", b"1", qos=1)
        assert len(pub._client._out_packet) == 0
        _flush(pub)
        await asyncio.sleep(0.05)
        assert not _writer_registered(pub)
