"""The netzero MQTT interface against a real broker: mode/set, mode/actual, an MQTT meter,
the state JSON and the Home Assistant discovery configs (asserted exactly)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import aiomqtt

from batmux import __version__
from batmux.config import MqttConfig
from batmux.netzero.consumption import MqttConsumption, SumConsumption
from batmux.netzero.ports import MonotonicClock
from batmux.netzero.publish import discovery
from batmux.netzero.runtime import NetzeroRunner, run_mqtt
from batmux.sim.house import encode_meter, publish_meter
from mqtt_helpers import recording
from netzero.nz_helpers import HEALTHY, Rig, cancel_all

DEVICE = {
    "identifiers": ["batmux_netzero"],
    "name": "Zero export",
    "manufacturer": "batmux",
    "model": "Zero-export controller",
    "via_device": "batmux_gateway",
}
ORIGIN = {"name": "batmux", "sw_version": __version__}


def _entity(component: str, key: str, name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "unique_id": f"batmux_netzero_{key}",
        "default_entity_id": f"{component}.batmux_netzero_{key}",
        "origin": ORIGIN,
        "availability": [{"topic": "batmux/status"}],
        "device": DEVICE,
        **extra,
    }


def test_discovery_payloads_exactly() -> None:
    state = "batmux/netzero/state"
    power = {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"}
    expected = {
        "homeassistant/select/batmux_netzero/mode/config": _entity(
            "select", "mode", "Mode",
            command_topic="batmux/netzero/mode/set", state_topic="batmux/netzero/mode/actual",
            options=["charge", "discharge", "idle", "protect"],
            icon="mdi:transmission-tower-export",
        ),
        "homeassistant/sensor/batmux_netzero/grid_w/config": _entity(
            "sensor", "grid_w", "Grid power", state_topic=state,
            value_template="{{ value_json.grid_w }}", **power,
        ),
        "homeassistant/sensor/batmux_netzero/inverter_w/config": _entity(
            "sensor", "inverter_w", "Inverter power", state_topic=state,
            value_template="{{ value_json.inverter_w }}", **power,
        ),
        "homeassistant/sensor/batmux_netzero/target_w/config": _entity(
            "sensor", "target_w", "Target grid power", state_topic=state,
            value_template="{{ value_json.target_w }}", **power,
        ),
        "homeassistant/sensor/batmux_netzero/locks/config": _entity(
            "sensor", "locks", "Locks", state_topic=state, icon="mdi:lock-alert",
            value_template="{{ value_json.locks | join(', ') if value_json.locks else 'none' }}",
        ),
        "homeassistant/binary_sensor/batmux_netzero/locked/config": _entity(
            "binary_sensor", "locked", "Locked", state_topic=state, device_class="problem",
            value_template="{{ 'ON' if value_json.locks else 'OFF' }}",
        ),
        "homeassistant/sensor/batmux_netzero/hm600_status/config": _entity(
            "sensor", "hm600_status", "hm600 status", state_topic=state,
            value_template="{{ value_json.devices['hm600'].status }}",
            icon="mdi:information-outline",
        ),
        "homeassistant/sensor/batmux_netzero/hm600_power/config": _entity(
            "sensor", "hm600_power", "hm600 power", state_topic=state,
            value_template="{{ value_json.devices['hm600'].power_w }}", **power,
        ),
    }  # fmt: skip
    assert discovery("batmux", "homeassistant", ["hm600"]) == expected


def test_state_json_exactly() -> None:
    rig = Rig(load_w=400.0)
    rig.run(40)
    rig.battery = replace(HEALTHY, cell_min_v=3.0)
    rig.run(3)
    assert rig.runner.state() == {
        "mode": "discharge",
        "target_w": 10.0,
        "grid_w": 400.0,
        "inverter_w": 0.0,
        "locks": ["cell_low: 3.000 V (locks below 3.1 V)"],
        "devices": {
            "hm600": {"kind": "inverter", "status": "off", "power_w": 0.0, "limit_w": 390.0,
                      "requested_w": 0.0, "error": ""},
            "charger": {"kind": "charger", "status": "off", "on": False, "power_w": 0.0,
                        "requested_on": False, "error": ""},
        },
        "reason": "locked",
    }  # fmt: skip


async def test_mode_set_meter_and_state_over_a_real_broker(broker) -> None:  # type: ignore[no-untyped-def]
    rig = Rig(load_w=400.0)
    clock = MonotonicClock()
    meter = MqttConsumption(rig.cfg.consumption[0].mqtt, clock)  # type: ignore[arg-type]
    runner = NetzeroRunner(
        rig.cfg, clock=clock, consumption=SumConsumption([meter]), inverters=[rig.inverter],
        switches=[], battery=lambda: HEALTHY, mqtt_used=True,
    )  # fmt: skip
    mqtt = MqttConfig(url=broker.url)
    async with recording(broker.port) as rec:
        tasks = [
            asyncio.create_task(run_mqtt(runner, mqtt, [meter])),
            asyncio.create_task(runner.run()),
        ]
        try:
            await rec.wait_for(lambda: "batmux/netzero/mode/actual" in rec.messages)
            assert rec.messages["batmux/netzero/mode/actual"] == b"discharge"
            assert runner.mqtt_down_since is None
            config = "homeassistant/select/batmux_netzero/mode/config"
            await rec.wait_for(lambda: config in rec.messages)
            async with aiomqtt.Client("127.0.0.1", broker.port) as client:
                meter_task = asyncio.create_task(
                    publish_meter(client, "meter", lambda: -200.0, "int16", 0.1)
                )
                await client.publish("batmux/netzero/mode/set", b"charge")
                await rec.wait_for(lambda: rec.messages["batmux/netzero/mode/actual"] == b"charge")
                await client.publish("batmux/netzero/mode/set", b"nonsense")
                await rec.wait_for(
                    lambda: (
                        json.loads(rec.messages.get("batmux/netzero/state", b"{}")).get("grid_w")
                        == -200.0
                    )
                )
                meter_task.cancel()
            await rec.wait_for(
                lambda: (
                    json.loads(rec.messages.get("batmux/netzero/state", b"{}")).get("grid_w")
                    == -200.0
                )
            )
            state = rec.json("batmux/netzero/state")
            assert (state["mode"], state["target_w"], state["locks"]) == ("charge", 10.0, [])
            assert runner.mode == "charge"
        finally:
            await cancel_all(tasks)


async def test_lost_broker_is_reported_to_the_guard_and_the_meter_resumes(broker) -> None:  # type: ignore[no-untyped-def]
    rig = Rig()
    runner = rig.runner
    runner.mqtt_down_since = 0.0  # down until connected
    # A client id of its own: the MQTT sink's connection would otherwise be dropped for it.
    mqtt = MqttConfig(url=broker.url, client_id="batmux-test")
    task = asyncio.create_task(run_mqtt(runner, mqtt, [rig.meter]))
    try:
        async with asyncio.timeout(10):
            while runner.mqtt_down_since is not None:
                await asyncio.sleep(0.05)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="batmux-test"):
            await asyncio.sleep(0.3)  # the sink's session, connected under the configured id
            assert runner.mqtt_down_since is None
        restart = asyncio.create_task(broker.restart())  # down 0.5 s; retry after 1 s
        async with asyncio.timeout(10):
            while runner.mqtt_down_since is None:
                await asyncio.sleep(0.05)
        await restart
        async with asyncio.timeout(10):
            while runner.mqtt_down_since is not None:
                await asyncio.sleep(0.05)
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            async with asyncio.timeout(10):  # subscribed again after the reconnect
                while (reading := rig.meter.latest()) is None or reading.watts != 123.0:
                    await client.publish("meter", encode_meter(123.0, "int16"))
                    await asyncio.sleep(0.1)
    finally:
        await cancel_all([task])
