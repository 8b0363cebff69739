"""Device, origin and gateway blocks of the Home Assistant discovery configs (pure builders).

Each battery or group is one HA device. A battery's device names the BMS itself: manufacturer,
model, hardware and firmware version and serial number where its protocol reports them (keys in
the state JSON, or the driver's decoded device-info frame), else the maker of the driver's BMS
family; ``connections`` carries the BLE MAC (HA then matches it with other integrations that
see the same radio); ``via_device`` points at the batmux gateway device, which has a
connectivity entity on the gateway's status topic. ``origin`` names batmux in every config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from batmux import __version__

ORIGIN: dict[str, str] = {"name": "batmux", "sw_version": __version__}

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

# The BMS maker of each driver type when the protocol itself does not say (generic protocols
# such as pylontech_can or mqtt_json are spoken by many makers and get none).
MANUFACTURERS: dict[str, str] = {
    "ant": "ANT BMS",
    "byd_can": "BYD",
    "byd_modbus": "BYD",
    "daly": "Daly",
    "daly_modbus": "Daly",
    "jbd": "JBD",
    "jk": "JK BMS",
    "jk02_24s": "JK BMS",
    "jk02_32s": "JK BMS",
    "sok": "SOK",
    "supervolt": "Supervolt",
    "vedirect": "Victron Energy",
    "victron_dbus": "Victron Energy",
    "victron_smartshunt": "Victron Energy",
}

# device-block key → state-JSON keys a protocol fills (first found wins)
IDENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "manufacturer": ("manufacturer",),
    "model": ("model",),
    "hw_version": ("hardware_version",),
    "sw_version": ("software_version", "firmware"),
    "serial_number": ("serial",),
}


def gateway_id(topics_base: str, gateway: str = "") -> str:
    """The gateway device's identifier; one per gateway name (``mqtt.gateway``), else one per
    base topic, so two gateways stay apart."""
    if gateway:
        return f"batmux_gateway_{slug(gateway)}"
    return "batmux_gateway" if topics_base == "batmux" else f"batmux_gateway_{slug(topics_base)}"


def node_id(name: str, gateway: str = "") -> str:
    """A battery's, group's or link's HA id: ``batmux_<name>``, with ``mqtt.gateway`` set
    ``batmux_<gateway>_<name>`` (two gateways' "house" batteries stay two devices)."""
    return f"batmux_{slug(gateway)}_{name}" if gateway else f"batmux_{name}"


def slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def identity(
    state_json: Mapping[str, Any], source_info: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What the BMS says about itself: from the state JSON, then the driver's device info."""
    out: dict[str, str] = {}
    for key, names in IDENTITY_KEYS.items():
        for name in names:
            value = state_json.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                text = str(value).strip()
                if text:
                    out[key] = text
                    break
    for key, value in (source_info or {}).items():
        if key in IDENTITY_KEYS and value and key not in out:
            out[key] = value
    return out


def device_block(
    name: str,
    driver_type: str,
    is_group: bool,
    topics_base: str,
    bms: Mapping[str, str] | None = None,
    address: str | None = None,
    gateway: str = "",
) -> dict[str, Any]:
    """One battery's or group's HA device."""
    device: dict[str, Any] = {"identifiers": [node_id(name, gateway)], "name": name}
    if is_group:
        device.update(manufacturer="batmux", model="Battery group", sw_version=__version__)
    else:
        bms = dict(bms or {})
        maker = bms.pop("manufacturer", None) or MANUFACTURERS.get(driver_type)
        if maker:
            device["manufacturer"] = maker
        device["model"] = bms.pop("model", None) or driver_type
        device.update(sorted(bms.items()))
        if address and _MAC.match(address):
            device["connections"] = [["bluetooth", address.upper()]]
    device["via_device"] = gateway_id(topics_base, gateway)
    return device


def gateway_device(topics_base: str, gateway: str = "") -> dict[str, Any]:
    label = gateway or ("" if topics_base == "batmux" else topics_base)
    return {
        "identifiers": [gateway_id(topics_base, gateway)],
        "name": f"batmux {label}" if label else "batmux",
        "manufacturer": "batmux",
        "model": "Battery gateway",
        "sw_version": __version__,
    }


def gateway_messages(
    prefix: str, topics_base: str, status_topic: str, gateway: str = ""
) -> dict[str, Any]:
    """The gateway device with its status entity (connectivity: online / offline, the last
    will). No availability of its own: when the gateway is gone it shows "disconnected"."""
    node = gateway_id(topics_base, gateway)
    config = {
        "name": "Status",
        "unique_id": f"{node}_status",
        "default_entity_id": f"binary_sensor.{node}_status",
        "state_topic": status_topic,
        "payload_on": "online",
        "payload_off": "offline",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "device": gateway_device(topics_base, gateway),
        "origin": ORIGIN,
    }
    return {f"{prefix}/binary_sensor/{node}/status/config": config}
