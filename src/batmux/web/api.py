"""The JSON API's documents (pure: published states in, JSON-ready dicts out)."""

from __future__ import annotations

from typing import Any

from batmux.model.state import BatteryState

# Present in every battery object, null when unknown (the API's contract).
REQUIRED = ("soc", "voltage", "current", "power", "cell_voltages")


def battery_json(state: BatteryState) -> dict[str, Any]:
    """One battery or group: the MQTT state JSON (with limits and their reason) plus
    ``name``, ``online``, ``is_group`` and the device's health counters."""
    out: dict[str, Any] = {"name": state.name, "online": state.available}
    out.update({key: None for key in REQUIRED})
    out.update(state.to_json())
    out["cell_voltages"] = out["cell_voltages"] or []
    out["is_group"] = state.is_group
    s = state.sample
    if s is not None:
        out["balancing"] = s.balancing
    out["last_good_at"] = state.last_good_at or None
    out["health"] = dict(state.diagnostics)
    return out


def batteries_json(states: list[BatteryState]) -> list[dict[str, Any]]:
    return [battery_json(state) for state in states]
