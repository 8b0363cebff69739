"""One line per battery and output saying what ``batmux run`` connects to (logged at start).

A user who starts the gateway sees at once that it is alive and where it looks for each
device; credentials never appear (``links.mqtt_url.redact_url``).
"""

from __future__ import annotations

from typing import Any

from batmux.config import BatteryConfig, Config
from batmux.links.mqtt_url import redact_url


def _can(can: Any) -> str:
    return f"CAN {can.interface}:{can.channel}" if can is not None else ""


def battery_line(battery: BatteryConfig, config: Config) -> str:
    if battery.topic:
        url = battery.url or (config.mqtt.url if config.mqtt else "mqtt://localhost:1883")
        where = f"MQTT topic {battery.topic} on {redact_url(url)}"
    elif battery.is_sim:
        where = "simulated"
    elif battery.can is not None:
        where = _can(battery.can)
    elif battery.port:
        where = f"serial {battery.port}"
    elif battery.address.startswith(("/", "serial:")):
        where = f"serial {battery.address}"
    else:
        adapter = battery.adapter or "the default adapter"
        where = f"BLE {battery.address} on {adapter}"
    return f"battery {battery.name}: {battery.type}, {where}"


def output_lines(config: Config) -> list[str]:
    lines = []
    if config.mqtt is not None:
        mqtt = config.mqtt
        discovery = f", HA discovery {mqtt.discovery_prefix}" if mqtt.discovery else ""
        lines.append(f"output MQTT: {redact_url(mqtt.url)}, topics {mqtt.base_topic}/…{discovery}")
    for venus in config.venus:
        lines.append(f"output Venus: {venus.battery} as a battery service on the system D-Bus")
    default = config.mqtt.url if config.mqtt is not None else "mqtt://localhost:1883"
    for out in config.mqtt_json_output:
        url = redact_url(out.url or default)
        lines.append(f"output mqtt_json_output: {out.battery} → {out.topic} on {url}")
    for inverter in config.inverters:
        listen = getattr(inverter, "listen", None)
        port = getattr(inverter, "port", None)
        can = _can(getattr(inverter, "can", None))
        where = f"Modbus TCP {listen}" if listen else f"Modbus RTU {port}" if port else can
        lines.append(
            f"output inverter {inverter.link_name}: {inverter.type} for {inverter.battery}, {where}"
        )
    return lines


def startup_lines(config: Config) -> list[str]:
    groups = [f"group {g.name}: {g.mode} of {', '.join(g.members)}" for g in config.groups]
    return [*(battery_line(b, config) for b in config.batteries), *groups, *output_lines(config)]
