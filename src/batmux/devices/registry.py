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
    address_required: bool = False  # no address never means "simulate" (real hardware only)
    sim_max_cells: int = 32  # the most cells this family's frames (and its simulator) carry
    requires: tuple[str, ...] = ()  # config keys the source needs unless simulated (config.py)


def _entry(*types: DeviceType) -> dict[str, DeviceType]:
    return {t.name: t for t in types}


DEVICE_TYPES: dict[str, DeviceType] = _entry(
    DeviceType(
        "jk",
        "ble",
        codec="batmux.protocols.jk:JkAutoCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:JkSimDevice",
        description="JK BMS (JK02 or JK04), protocol and layout detected from the device info",
    ),
    DeviceType(
        "jk02_24s",
        "ble",
        codec="batmux.protocols.jk:Jk24sCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:Jk24sSimDevice",
        description="JK BMS JK02, 24-cell layout (firmware < 11)",
        sim_max_cells=24,
    ),
    DeviceType(
        "jk02_32s",
        "ble",
        codec="batmux.protocols.jk:Jk32sCodec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:Jk32sSimDevice",
        description="JK BMS JK02, 32-cell layout (firmware >= 11)",
    ),
    DeviceType(
        "jk04",
        "ble",
        codec="batmux.protocols.jk04:Jk04Codec",
        driver="batmux.devices.jk:JkDriver",
        sim="batmux.sim.jk:Jk04SimDevice",
        description="old JK BMS / balancer, JK04 protocol (JK-B2A16S hw 3.0, JK-B5A24S 8.0.3M)",
    ),
    DeviceType(
        "pylontech_can",
        "can",
        codec="batmux.protocols.pylontech_can:PylontechCanCodec",
        source="batmux.devices.can_source:create_source",
        description="Pylontech LV battery stack read from its CAN broadcast (v1.2/v1.3)",
        sim_max_cells=128,
    ),
    DeviceType(
        "byd_can",
        "can",
        codec="batmux.protocols.byd_can:BydCanCodec",
        source="batmux.devices.can_source:create_source",
        description="BYD Battery-Box HVS/HVM read from its CAN frames (inverter on the bus)",
        sim_max_cells=128,
    ),
    DeviceType(
        "nissan_leaf",
        "can",
        codec="batmux.protocols.nissan_leaf:NissanLeafCodec",
        source="batmux.devices.nissan_leaf_source:create_source",
        description="Nissan LEAF pack (ZE0/AZE0/ZE1): EV-CAN broadcast + LBC cell polling",
        sim_max_cells=96,  # a LEAF always has 96 cells in series; the simulator uses 96
    ),
    DeviceType(
        "tesla_model3",
        "can",
        codec="batmux.protocols.tesla_model3:TeslaModel3Codec",
        source="batmux.devices.tesla_source:create_source",
        description="Tesla Model 3/Y HV pack (NCA 96 / LFP 108 bricks) read from its CAN frames",
        sim_max_cells=108,
    ),
    DeviceType(
        "batrium",
        "can",
        codec="batmux.protocols.batrium:BatriumCodec",
        source="batmux.devices.batrium:create_source",
        description="Batrium WatchMon, native CAN 2.0 (29-bit ids from a base id)",
        sim_max_cells=128,
    ),
    DeviceType(
        "junctek",
        "serial",
        codec="batmux.protocols.junctek:JunctekCodec",
        source="batmux.devices.junctek:create_source",
        description="Junctek KH-F/KG-F shunt over RS485 (:r50= lines), SoC fallback from OCV",
        sim_max_cells=128,
    ),
    DeviceType(
        "victron_dbus",
        "dbus",
        source="batmux.devices.venus_input:victron_source",
        description="battery current measured by Victron gear on the Venus OS D-Bus",
    ),
    DeviceType(
        "jbd",
        "ble",
        codec="batmux.protocols.jbd:JbdCodec",
        driver="batmux.devices.jbd:JbdDriver",
        sim="batmux.sim.jbd:JbdSimDevice",
        description="JBD / Jiabaida / Xiaoxiang / Overkill Solar / LLT Power BMS",
    ),
    DeviceType(
        "daly",
        "ble",
        codec="batmux.protocols.daly:DalyCodec",
        driver="batmux.devices.daly:DalyDriver",
        sim="batmux.sim.daly:DalySimDevice",
        description="Daly BMS, classic A5 protocol (older Bluetooth dongles)",
    ),
    DeviceType(
        "daly_modbus",
        "ble",
        codec="batmux.protocols.daly_modbus:DalyModbusCodec",
        driver="batmux.devices.daly_modbus:DalyModbusDriver",
        sim="batmux.sim.daly_modbus:DalyModbusSimDevice",
        description="Daly BMS, D2 03 Modbus-style protocol (H-series / DL- modules)",
    ),
    DeviceType(
        "ant",
        "ble",
        codec="batmux.protocols.ant:AntCodec",
        driver="batmux.devices.ant:AntDriver",
        sim="batmux.sim.ant:AntSimDevice",
        description="ANT BMS, 2021+ protocol (ANT-BLE…)",
    ),
    DeviceType(
        "supervolt",
        "ble",
        codec="batmux.protocols.supervolt:SupervoltCodec",
        driver="batmux.devices.supervolt:SupervoltDriver",
        sim="batmux.sim.supervolt:SupervoltSimDevice",
        description="Supervolt v1 / E&J Technology BMS (ASCII protocol; v3 packs speak JBD)",
    ),
    DeviceType(
        "sok",
        "ble",
        codec="batmux.protocols.sok:SokCodec",
        driver="batmux.devices.sok:SokDriver",
        sim="batmux.sim.sok:SokSimDevice",
        description="SOK / ABC-BMS",
    ),
    DeviceType(
        "victron_smartshunt",
        "ble",
        codec="batmux.protocols.victron_smartshunt:VictronAdvertisementCodec",
        driver="batmux.devices.victron_smartshunt:VictronSmartShuntDriver",
        sim="batmux.sim.victron_smartshunt:VictronSimDevice",
        description="Victron SmartShunt: GATT (PIN) or Instant Readout advertisement (key)",
    ),
    DeviceType(
        "byd_modbus",
        "modbus",
        source="batmux.devices.byd_modbus_source:create_source",
        description="BYD Battery-Box Premium HV read over Modbus RTU/TCP (unit 21)",
        address_required=True,
        sim_max_cells=128,
    ),
    DeviceType(
        "vedirect",
        "serial",
        codec="batmux.protocols.vedirect_text:VeDirectCodec",
        sim="batmux.sim.vedirect:VeDirectSimDevice",
        source="batmux.devices.vedirect_source:create_source",
        description="Victron VE.Direct text protocol (BMV/SmartShunt, MPPT); HEX Get/Set",
        requires=("port",),
        sim_max_cells=128,
    ),
    DeviceType(
        "mqtt_json",
        "mqtt",
        source="batmux.devices.mqtt_json_source:create_source",
        description="dbus-mqtt-battery JSON on an MQTT topic (Node-RED, other gateways)",
        requires=("topic",),
    ),
    DeviceType(
        "batmux_remote",
        "mqtt",
        source="batmux.devices.mqtt_json_source:create_source",
        description="the state JSON of another batmux (<base_topic>/<name>/state)",
        requires=("topic",),
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
