"""MQTT JSON against a real mosquitto: input source (with a broker restart) and output sink."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import aiomqtt

from batmux.config import BatteryConfig, parse_config
from batmux.devices.mqtt_json_source import MqttJsonSource, create_source
from batmux.errors import NoData
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.protocols.mqtt_json import parse_battery_payload
from batmux.runtime.hub import StateHub
from batmux.sinks.mqtt_json_out import create_outputs


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(NoData):
            if await check():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def publish(port: int, topic: str, payload: str | bytes, retain: bool = False) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, payload, retain=retain)


async def test_mqtt_json_source_derives_and_survives_restart(json_broker) -> None:
    battery = BatteryConfig(name="nodered", type="mqtt_json", topic="nr/battery")
    config = parse_config({"mqtt": {"url": json_broker.url}})
    source = create_source(battery, config)
    assert isinstance(source, MqttJsonSource) and source.url == json_broker.url
    source._retry = (0.1, 0.3)
    try:
        source.start()
        await asyncio.wait_for(source.connected.wait(), 5)
        first = '{"Dc": {"Power": -480, "Voltage": 48}, "Soc": 75, "InstalledCapacity": 200}'
        await publish(json_broker.port, "nr/battery", first)

        async def got(current: float) -> bool:
            return (await source.sample()).current_a == current

        await until(lambda: got(-10.0))
        s = await source.sample()
        assert s.charge_ah == 150.0 and s.extra["consumed_ah"] == 50.0

        await publish(json_broker.port, "nr/battery", b"{garbage")
        await until(lambda: _true(source.health.corrupt_frames == 1))
        assert (await source.sample()).current_a == -10.0  # last good kept

        json_broker.stop()
        await until(lambda: _true(not source.connected.is_set()))
        json_broker.start()
        await asyncio.wait_for(source.connected.wait(), 8)
        await publish(
            json_broker.port, "nr/battery", '{"Dc": {"Power": 96, "Voltage": 48}, "Soc": 76}'
        )
        await until(lambda: got(2.0))
        assert source.health.connects >= 2 and source.health.drops >= 1
    finally:
        await source.close()


async def _true(value: bool) -> bool:
    return value


async def test_batmux_remote_reads_state_json(json_broker) -> None:
    battery = BatteryConfig(
        name="far", type="batmux_remote", topic="batmux/far/state", url=json_broker.url
    )
    source = create_source(battery)
    try:
        source.start()
        await asyncio.wait_for(source.connected.wait(), 5)
        state = BatteryState(
            "far", True, BatterySample(time.time(), voltage_v=26.6, current_a=3.0, soc_pct=88.0)
        )
        await publish(json_broker.port, "batmux/far/state", json.dumps(state.to_json()))

        async def arrived() -> bool:
            return (await source.sample()).soc_pct == 88.0

        await until(arrived)
        down = BatteryState("far", False, None)
        await publish(json_broker.port, "batmux/far/state", json.dumps(down.to_json()))
        await until(lambda: _true(not source.remote_available))
        try:
            await source.sample()
            raise AssertionError("an unavailable remote must give NoData")
        except NoData:
            pass
    finally:
        await source.close()


async def test_output_sink_publishes_schema(json_broker) -> None:
    config = parse_config(
        {
            "batteries": [{"name": "bank", "type": "jk"}],
            "mqtt_json_output": [{"battery": "bank", "topic": "out/bank"}],
        }
    )
    hub = StateHub()
    [sink] = create_outputs(hub, config.mqtt_json_output, json_broker.url)
    received: list[bytes] = []

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", json_broker.port) as client:
            await client.subscribe("out/bank")
            ready.set()
            async for message in client.messages:
                received.append(message.payload)  # type: ignore[arg-type]

    ready = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        listener = tg.create_task(listen(ready))
        runner = tg.create_task(sink.run())
        await asyncio.wait_for(ready.wait(), 5)
        await asyncio.sleep(0.2)  # let the sink connect and wait on the hub
        sample = BatterySample(2.0, voltage_v=52.0, current_a=-5.2, soc_pct=50.0,
                               charge_ah=50.0, capacity_ah=100.0)  # fmt: skip
        hub.publish([BatteryState("bank", True, sample), BatteryState("other", True, sample)])
        await until(lambda: _true(bool(received)))
        listener.cancel()
        runner.cancel()
    payload = json.loads(received[0])
    assert payload["Dc"]["Current"] == -5.2 and payload["ConsumedAmphours"] == 50.0
    back = parse_battery_payload(received[0], 0.0)
    assert back.voltage_v == 52.0 and back.soc_pct == 50.0


def test_factory_finds_root_url_through_the_gateway_context() -> None:
    config = parse_config({"mqtt": {"url": "mqtt://broker.lan:1884"}})

    class FakeGateway:  # only the attribute the factory reads
        def __init__(self) -> None:
            self.config = config

    battery = BatteryConfig(name="nr", type="mqtt_json", topic="t")
    source = create_source(battery, {"gateway": FakeGateway()})
    assert source.url == "mqtt://broker.lan:1884"
