"""Home Assistant MQTT discovery, as a pure builder: a battery state → (topic, payload) pairs.

One retained config per quantity under ``<prefix>/<component>/batmux_<name>/<key>/config``,
each with a unique_id, ``default_entity_id`` (``<component>.batmux_<name>_<key>``: HA 2025.10
replaced ``object_id`` with it, so entity ids stay the same across HA versions), the ``origin``
block, the shared device block (``discovery_device``), availability and a value_template into
the battery's state JSON. Configs are built from the keys a state actually carries, so a 4-cell
pack gets four cell sensors and a group gets its member counts (not its members' cells: each
member is its own device). Diagnostic entities (counters, last error) are available whenever the
gateway is: they matter most while their battery is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batmux.sinks.discovery_device import ORIGIN, device_block, gateway_id, node_id


@dataclass(frozen=True, slots=True)
class Quantity:
    key: str  # key in the state JSON
    name: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = "measurement"
    icon: str | None = None
    precision: int | None = None
    diagnostic: bool = False
    enabled: bool = True  # False: announced, but off until the user enables it in HA


M, TI, T = "measurement", "total_increasing", "total"
QUANTITIES: tuple[Quantity, ...] = (
    Quantity("voltage", "Voltage", "V", "voltage", M, precision=2),
    Quantity("current", "Current", "A", "current", M, precision=2),
    Quantity("power", "Power", "W", "power", M, precision=0),
    Quantity("soc", "State of charge", "%", "battery", M, precision=0),
    Quantity("charge", "Remaining charge", "Ah", None, M, "mdi:battery-50", 1),
    Quantity("capacity", "Capacity", "Ah", None, M, "mdi:battery", 1),
    Quantity("cycles", "Cycles", None, None, TI, "mdi:battery-sync", 0),
    Quantity("soh", "State of health", "%", None, M, "mdi:battery-heart", 0),
    Quantity("mos_temperature", "MOSFET temperature", "°C", "temperature", M, precision=1),
    Quantity("cell_min", "Cell voltage min", "V", "voltage", M, precision=3),
    Quantity("cell_max", "Cell voltage max", "V", "voltage", M, precision=3),
    Quantity("cell_delta", "Cell voltage delta", "V", "voltage", M, precision=3),
    Quantity("total_charged_kwh", "Energy charged", "kWh", "energy", TI, precision=3),
    Quantity("total_discharged_kwh", "Energy discharged", "kWh", "energy", TI, precision=3),
    Quantity("net_kwh", "Energy net", "kWh", "energy", T, precision=3),
    Quantity("meter_cycles", "Cycles (counted)", None, None, TI, "mdi:battery-sync", 2),
    Quantity("charge_voltage_limit", "Charge voltage limit", "V", "voltage", M, precision=2),
    Quantity("charge_current_limit", "Charge current limit", "A", "current", M, precision=1),
    Quantity("discharge_current_limit", "Discharge current limit", "A", "current", M, precision=1),
    Quantity("time_to_go", "Time to go", "s", "duration", M, precision=0),
    Quantity("limit_reason", "Limit reason", None, None, None, "mdi:information-outline"),
    Quantity("members_online", "Members online", None, None, M, "mdi:battery-check"),
    Quantity("members_offline", "Members offline", None, None, M, "mdi:battery-off"),
    Quantity("members_blocking_charge", "Members blocking charge", None, None, M),
    Quantity("members_blocking_discharge", "Members blocking discharge", None, None, M),
)

DIAGNOSTICS: tuple[Quantity, ...] = (
    Quantity("connects", "Connects", None, None, TI, "mdi:bluetooth-connect", diagnostic=True),
    Quantity("drops", "Connection drops", None, None, TI, "mdi:bluetooth-off", diagnostic=True),
    Quantity("timeouts", "Timeouts", None, None, TI, "mdi:timer-alert", diagnostic=True),
    Quantity("corrupt_frames", "Corrupt frames", None, None, TI, "mdi:alert", diagnostic=True),
    Quantity("implausible", "Implausible samples", None, None, TI, "mdi:alert", diagnostic=True),
    Quantity("last_error", "Last error", None, None, None, "mdi:alert-circle", diagnostic=True),
    Quantity(
        "ble_path", "Bluetooth path", None, None, None, "mdi:router-wireless", diagnostic=True
    ),
    Quantity("ble_rssi", "Bluetooth RSSI", "dBm", "signal_strength", M, diagnostic=True),
)

# One sensor per element of a list in the state JSON: (list, key, label, unit, class, digits).
# Per-cell sensors are diagnostic and off by default: a bank of 16S packs would otherwise add
# dozens of entities to every dashboard (cell min/max/delta stay on).
PER_ELEMENT = (
    ("cell_voltages", "cell", "Cell voltage", "V", "voltage", 3, False),
    ("temperatures", "temperature", "Temperature", "°C", "temperature", 1, True),
)

BINARY = (
    ("charge_enabled", "Charging enabled", None),
    ("discharge_enabled", "Discharging enabled", None),
    ("balancing", "Balancing", None),
)
SWITCHES = (
    ("charge", "charge_enabled", "Charging"),
    ("discharge", "discharge_enabled", "Discharging"),
)


@dataclass(frozen=True, slots=True)
class Topics:
    base: str
    prefix: str
    gateway: str = ""  # mqtt.gateway: carried by every unique_id and device (docs/fleet.md)

    def state(self, name: str) -> str:
        return f"{self.base}/{name}/state"

    def availability(self, name: str) -> str:
        return f"{self.base}/{name}/availability"

    def diagnostics(self, name: str) -> str:
        return f"{self.base}/{name}/diagnostics"

    def command(self, name: str, switch: str) -> str:
        return f"{self.base}/{name}/{switch}/set"

    def switch_state(self, name: str, switch: str) -> str:
        return f"{self.base}/{name}/{switch}/state"

    @property
    def status(self) -> str:
        return f"{self.base}/status"


def _config(
    q: Quantity,
    name: str,
    topics: Topics,
    device: dict[str, Any],
    state_topic: str,
    template: str,
    object_key: str,
    component: str = "sensor",
) -> dict[str, Any]:
    uid = f"{node_id(name, topics.gateway)}_{object_key}"
    cfg: dict[str, Any] = {
        "name": q.name,
        "unique_id": uid,
        "default_entity_id": f"{component}.{uid}",
        "origin": ORIGIN,
        "state_topic": state_topic,
        "value_template": template,
        "availability": [
            {"topic": topics.status},
            {"topic": topics.availability(name)},
        ],
        "availability_mode": "all",
        "device": device,
    }
    if q.unit:
        cfg["unit_of_measurement"] = q.unit
    if q.device_class:
        cfg["device_class"] = q.device_class
    if q.state_class:
        cfg["state_class"] = q.state_class
    if q.icon:
        cfg["icon"] = q.icon
    if q.precision is not None:
        cfg["suggested_display_precision"] = q.precision
    if q.diagnostic:
        cfg["entity_category"] = "diagnostic"
    if not q.enabled:
        cfg["enabled_by_default"] = False
    return cfg


def discovery_messages(
    name: str,
    state_json: dict[str, Any],
    topics: Topics,
    model: str = "",
    allow_control: bool = False,
    is_group: bool = False,
    diagnostics: dict[str, Any] | None = None,
    bms: dict[str, str] | None = None,
    address: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every discovery config topic → payload for the keys present in ``state_json``.

    ``model`` is the driver type; ``bms`` what the BMS reports about itself
    (``discovery_device.identity``); ``address`` its BLE MAC, if it has one."""
    device = device_block(name, model, is_group, topics.base, bms, address, topics.gateway)
    state_topic = topics.state(name)
    node = node_id(name, topics.gateway)
    out: dict[str, dict[str, Any]] = {}

    def add(component: str, key: str, cfg: dict[str, Any]) -> None:
        out[f"{topics.prefix}/{component}/{node}/{key}/config"] = cfg

    for q in QUANTITIES:
        if q.key in state_json:
            add(
                "sensor",
                q.key,
                _config(
                    q, name, topics, device, state_topic, f"{{{{ value_json.{q.key} }}}}", q.key
                ),
            )
    for list_key, key, label, unit, device_class, precision, enabled in PER_ELEMENT:
        if is_group:
            break  # a bank's cells and probes are its members' entities
        for i in range(len(state_json.get(list_key, ()))):
            q = Quantity(f"{key}_{i + 1}", f"{label} {i + 1}", unit, device_class, M,
                         precision=precision, diagnostic=not enabled, enabled=enabled)  # fmt: skip
            template = f"{{{{ value_json.{list_key}[{i}] }}}}"
            add("sensor", q.key, _config(q, name, topics, device, state_topic, template, q.key))
    for key, label, device_class in BINARY:
        if key in state_json and not (allow_control and key != "balancing"):
            q = Quantity(key, label, None, device_class, None)
            cfg = _config(
                q,
                name,
                topics,
                device,
                state_topic,
                f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}",
                key,
                "binary_sensor",
            )
            add("binary_sensor", key, cfg)
    if allow_control:
        for switch, key, label in SWITCHES:
            if key in state_json:
                q = Quantity(key, label, None, "switch", None)
                cfg = _config(
                    q,
                    name,
                    topics,
                    device,
                    state_topic,
                    f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}",
                    switch,
                    "switch",
                )
                # Its own retained ON/OFF topic: published right after a write, not a whole
                # publish period later (sinks/mqtt.py).
                cfg["state_topic"] = topics.switch_state(name, switch)
                del cfg["value_template"]
                cfg["command_topic"] = topics.command(name, switch)
                cfg["payload_on"], cfg["payload_off"] = "ON", "OFF"
                add("switch", switch, cfg)
        if "contactor_reason" in state_json:  # an EV pack under contactor control
            q = Quantity("contactor", "Contactors", None, "switch", None)
            shown = "{{ 'ON' if value_json.contactor == 'closed' else 'OFF' }}"
            cfg = _config(q, name, topics, device, state_topic, shown, "contactor", "switch")
            cfg["command_topic"] = topics.command(name, "contactor")
            cfg["payload_on"], cfg["payload_off"] = "close", "open"
            cfg["state_on"], cfg["state_off"] = "ON", "OFF"
            add("switch", "contactor", cfg)
    for q in DIAGNOSTICS:
        if diagnostics is not None and q.key in diagnostics:
            add(
                "sensor",
                f"diag_{q.key}",
                _config(
                    q,
                    name,
                    topics,
                    device,
                    topics.diagnostics(name),
                    f"{{{{ value_json.{q.key} }}}}",
                    f"diag_{q.key}",
                ),
            )
            # Only the gateway's availability: the counters and the last error must stay
            # readable while the battery is unavailable.
            cfg = out[f"{topics.prefix}/sensor/{node}/diag_{q.key}/config"]
            cfg["availability"] = [{"topic": topics.status}]
            del cfg["availability_mode"]
    return out


def link_discovery_messages(
    name: str, status: dict[str, Any], topics: Topics
) -> dict[str, dict[str, Any]]:
    """Discovery for an inverter link's status JSON: numbers and text as sensors, flags as
    binary sensors, all under one device per link."""
    device = {
        "identifiers": [node_id(name, topics.gateway)],
        "name": name,
        "manufacturer": "batmux",
        "model": "Inverter link",
        "via_device": gateway_id(topics.base, topics.gateway),
    }
    out: dict[str, dict[str, Any]] = {}
    node = node_id(name, topics.gateway)
    for key, value in status.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        is_flag = isinstance(value, bool)
        q = Quantity(
            key,
            key.replace("_", " ").capitalize(),
            None,
            None,
            None if is_flag or isinstance(value, str) else M,
            diagnostic=key not in ("state", "inverter_alive"),
        )
        template = (
            f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}"
            if is_flag
            else f"{{{{ value_json.{key} }}}}"
        )
        component = "binary_sensor" if is_flag else "sensor"
        cfg = _config(q, name, topics, device, topics.state(name), template, key, component)
        cfg["availability"] = [{"topic": topics.status}]
        del cfg["availability_mode"]
        if key == "inverter_alive":
            cfg["device_class"] = "connectivity"
        out[f"{topics.prefix}/{'binary_sensor' if is_flag else 'sensor'}/{node}/{key}/config"] = cfg
    return out
