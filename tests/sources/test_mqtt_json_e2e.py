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


async def test_bms_limits_from_json_reach_state_and_output(json_broker, tmp_path) -> None:
    """Issue 11 item 4 end to end: dbus-mqtt-battery JSON with Info 30 A / 40 A / 54.0 V in over
    mosquitto → the gateway's state JSON and its mqtt_json_output carry 30 / 40 / 54.0."""
    from batmux.runtime.app import Gateway
    from batmux.runtime.wiring import wire
    from mqtt_helpers import recording, running

    config = parse_config(
        {
            "mqtt": {"url": json_broker.url},
            "sample_period": 0.1,
            "publish_period": 0.2,
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "nr",
                    "type": "mqtt_json",
                    "topic": "nr/in",
                    # no anti-flapping hold: the start (stale, 0 A) must not delay the check
                    "limits": {"hold_s": 0, "ramp_a_per_s": 1000},
                }
            ],
            "mqtt_json_output": [{"battery": "nr", "topic": "nr/out"}],
        },
        "test.yaml",
    )
    cells = {f"Cell{n}": 3.31 for n in range(1, 17)}
    payload = {
        "Dc": {"Power": -520.0, "Voltage": 52.96},
        "Soc": 60,
        "InstalledCapacity": 280,
        "Voltages": cells,
        "Info": {"MaxChargeVoltage": 54.0, "MaxChargeCurrent": 30, "MaxDischargeCurrent": 40},
    }
    gateway = Gateway(config)
    wire(gateway)
    async with recording(json_broker.port) as rec, running(gateway):
        await asyncio.sleep(0.3)
        await publish(json_broker.port, "nr/in", json.dumps(payload), retain=True)
        await rec.wait_for(lambda: "nr/out" in rec.messages and "batmux/nr/state" in rec.messages)
        await rec.wait_for(lambda: rec.json("batmux/nr/state").get("charge_current_limit"))
        await rec.wait_for(lambda: rec.json("nr/out")["Info"]["MaxChargeCurrent"])
        state = rec.json("batmux/nr/state")
        out = rec.json("nr/out")
    assert state["charge_current_limit"] == 30.0, state
    assert state["discharge_current_limit"] == 40.0
    assert state["charge_voltage_limit"] == 54.0  # not 16 × 3.45 = 55.2
    info = out["Info"]
    assert (info["MaxChargeCurrent"], info["MaxDischargeCurrent"]) == (30.0, 40.0)
    assert info["MaxChargeVoltage"] == 54.0


async def test_retained_400_digit_payload_then_20_valid_over_mosquitto(json_broker) -> None:
    """Issue 11 item 10: a retained payload with a 400-digit integer ended the source task, so
    0 of 20 valid payloads were accepted afterwards. Now it is counted, with its reason."""
    bad = '{"Dc": {"Power": ' + "9" * 400 + ', "Voltage": 48}, "Soc": 70}'
    await publish(json_broker.port, "nr/huge", bad, retain=True)
    source = create_source(BatteryConfig(name="huge", type="mqtt_json", topic="nr/huge"),
                           parse_config({"mqtt": {"url": json_broker.url}}))  # fmt: skip
    source._retry = (0.1, 0.3)
    accepted = 0
    try:
        source.start()
        await asyncio.wait_for(source.connected.wait(), 5)
        await until(lambda: _true(source.health.corrupt_frames == 1))
        assert "400 digits" in source.health.last_error
        for i in range(1, 21):
            payload = json.dumps({"Dc": {"Power": 48.0 * i, "Voltage": 48}, "Soc": 70})
            await publish(json_broker.port, "nr/huge", payload)

            async def got(current: float = float(i)) -> bool:
                return (await source.sample()).current_a == current

            await until(got, timeout=3)
            accepted += 1
    finally:
        await source.close()
    assert accepted == 20 and source.health.corrupt_frames == 1
