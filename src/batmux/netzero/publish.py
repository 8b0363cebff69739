"""The zero-export state JSON and its Home Assistant discovery, as pure builders.

Topics (``base`` = mqtt.base_topic):
    <base>/netzero/state        state JSON (retained): mode, target_w, grid_w, inverter_w,
                                locks, devices, reason
    <base>/netzero/mode/actual  the mode now (retained)
    <base>/netzero/mode/set     charge | discharge | idle | protect (written by users / HA)
"""

from __future__ import annotations

from typing import Any

from batmux.netzero.config import MODES
from batmux.sinks.discovery_device import ORIGIN, gateway_id, node_id, slug

NODE = "netzero"


def topics(base: str) -> dict[str, str]:
    return {
        "state": f"{base}/netzero/state",
        "mode_actual": f"{base}/netzero/mode/actual",
        "mode_set": f"{base}/netzero/mode/set",
    }


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def state_json(
    mode: str,
    target_w: float,
    grid_w: float | None,
    locks: list[str],
    inverters: dict[str, dict[str, Any]],
    switches: dict[str, dict[str, Any]],
    reason: str,
) -> dict[str, Any]:
    """`inverters`: name → {status, power_w, limit_w, requested_w, error};
    `switches`: name → {status, on, power_w, requested_on, role, error}."""
    inverter_w = sum(d.get("power_w") or 0.0 for d in inverters.values())
    devices: dict[str, Any] = {}
    for name, d in inverters.items():
        devices[name] = {
            "kind": "inverter",
            "status": d["status"],
            "power_w": _r(d.get("power_w")),
            "limit_w": _r(d.get("limit_w")),
            "requested_w": _r(d.get("requested_w")),
            "error": d.get("error", ""),
        }
    for name, d in switches.items():
        devices[name] = {
            "kind": d.get("role", "charger"),
            "status": d["status"],
            "on": d.get("on"),
            "power_w": _r(d.get("power_w")),
            "requested_on": d.get("requested_on"),
            "error": d.get("error", ""),
        }
    return {
        "mode": mode,
        "target_w": _r(target_w),
        "grid_w": _r(grid_w),
        "inverter_w": _r(inverter_w),
        "locks": list(locks),
        "devices": devices,
        "reason": reason,
    }


def discovery(
    base: str, prefix: str, device_names: list[str], gateway: str = ""
) -> dict[str, dict[str, Any]]:
    """Discovery configs: the mode select, grid/inverter/target power, the locks (a text
    sensor with the reasons and a problem binary sensor) and each device's status and power."""
    t = topics(base)
    node = node_id(NODE, gateway)
    device = {
        "identifiers": [node],
        "name": "Zero export",
        "manufacturer": "batmux",
        "model": "Zero-export controller",
        "via_device": gateway_id(base, gateway),
    }
    availability = [{"topic": f"{base}/status"}]
    out: dict[str, dict[str, Any]] = {}

    def add(component: str, key: str, name: str, **extra: Any) -> None:
        uid = f"{node}_{key}"
        cfg: dict[str, Any] = {
            "name": name,
            "unique_id": uid,
            "default_entity_id": f"{component}.{uid}",
            "origin": ORIGIN,
            "availability": availability,
            "device": device,
        }
        cfg.update(extra)
        out[f"{prefix}/{component}/{node}/{key}/config"] = cfg

    add("select", "mode", "Mode", command_topic=t["mode_set"], state_topic=t["mode_actual"],
        options=list(MODES), icon="mdi:transmission-tower-export")  # fmt: skip
    power = {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"}
    for key, name in (("grid_w", "Grid power"), ("inverter_w", "Inverter power"),
                      ("target_w", "Target grid power")):  # fmt: skip
        add("sensor", key, name, state_topic=t["state"],
            value_template=f"{{{{ value_json.{key} }}}}", **power)  # fmt: skip
    reasons = "{{ value_json.locks | join(', ') if value_json.locks else 'none' }}"
    add("sensor", "locks", "Locks", state_topic=t["state"], icon="mdi:lock-alert",
        value_template=reasons)  # fmt: skip
    add("binary_sensor", "locked", "Locked", state_topic=t["state"], device_class="problem",
        value_template="{{ 'ON' if value_json.locks else 'OFF' }}")  # fmt: skip
    for name in device_names:
        ref = f"value_json.devices['{name}']"
        key = slug(name)  # a device name may hold characters a topic or unique_id must not
        add("sensor", f"{key}_status", f"{name} status", state_topic=t["state"],
            value_template=f"{{{{ {ref}.status }}}}", icon="mdi:information-outline")  # fmt: skip
        add("sensor", f"{key}_power", f"{name} power", state_topic=t["state"],
            value_template=f"{{{{ {ref}.power_w }}}}", **power)  # fmt: skip
    return out
