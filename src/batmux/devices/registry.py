"""Config ``type:`` → device type, resolved lazily so only used families are imported.

Each entry names a codec class (used by ``batmux decode``), and for BLE families a driver class
and a simulator device class. Other transports name a ``source`` factory
``(battery_config, context) -> Source``. An unknown name is an error listing the known ones.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DeviceType:
    name: str
    transport: str  # "ble", "can", "modbus", "serial", "mqtt", "http"
    codec: str | None = None  # "module:Class"
    driver: str | None = None  # BLE driver "module:Class"
    sim: str | None = None  # simulator device "module:Class"
    source: str | None = None  # non-BLE source factory "module:function"
    description: str = ""


def _entry(*types: DeviceType) -> dict[str, DeviceType]:
    return {t.name: t for t in types}


DEVICE_TYPES: dict[str, DeviceType] = _entry(
    DeviceType(
        "jk",
        "ble",
        codec="batmux.protocols.jk:JkAutoCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:JkSimDevice",
        description="JK BMS (JK02), layout detected from the device info",
    ),
    DeviceType(
        "jk02_24s",
        "ble",
        codec="batmux.protocols.jk:Jk24sCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:JkSimDevice",
        description="JK BMS JK02, 24-cell layout (firmware < 11)",
    ),
    DeviceType(
        "jk02_32s",
        "ble",
        codec="batmux.protocols.jk:Jk32sCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:JkSimDevice",
        description="JK BMS JK02, 32-cell layout (firmware >= 11)",
    ),
    DeviceType(
        "vedirect",
        "serial",
        codec="batmux.protocols.vedirect:VeDirectCodec",
        sim="batmux.sim.vedirect:VeDirectSimDevice",
        source="batmux.devices.vedirect_source:create_source",
        description="Victron VE.Direct text protocol (BMV/SmartShunt, MPPT); HEX Get/Set",
    ),
    DeviceType(
        "mqtt_json",
        "mqtt",
        source="batmux.devices.mqtt_json_source:create_source",
        description="dbus-mqtt-battery JSON on an MQTT topic (Node-RED, other gateways)",
    ),
    DeviceType(
        "batmux_remote",
        "mqtt",
        source="batmux.devices.mqtt_json_source:create_source",
        description="the state JSON of another batmux (<base_topic>/<name>/state)",
    ),
)


def known_types() -> list[str]:
    return sorted(DEVICE_TYPES)


def get_type(name: str) -> DeviceType:
    try:
        return DEVICE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown type {name!r}; known: {', '.join(known_types())}") from None


def load(ref: str) -> Any:
    """Import ``module:attr``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def decodable_protocols() -> list[str]:
    return sorted(n for n, t in DEVICE_TYPES.items() if t.codec)
