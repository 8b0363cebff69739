"""Prometheus text exposition (format 0.0.4) of the gateway (pure: values in, text out).

Per battery/group: gauges ``batmux_battery_<value>{battery="…"}``, one series per cell
(``batmux_battery_cell_voltage{battery,cell}``), energy meters as counters (``…_total``).
Per device: the health counters (``batmux_device_<counter>_total``). Per inverter link and
sink: their status values, numbers and booleans as gauges, ever-growing counts as
``…_total`` counters, text as an ``…_info`` series with the text in a label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from batmux.model.state import BatteryState
from batmux.sinks.state_values import scalar_values

GAUGES: dict[str, str] = {
    "online": "1 while the battery sends fresh data",
    "soc": "state of charge, percent",
    "voltage": "pack voltage, volts",
    "current": "current, amperes (positive = charging)",
    "power": "power, watts (positive = charging)",
    "charge": "remaining charge, ampere-hours",
    "capacity": "capacity, ampere-hours",
    "cycles": "charge cycles reported by the BMS",
    "soh": "state of health, percent",
    "cell_min": "lowest cell voltage, volts",
    "cell_max": "highest cell voltage, volts",
    "cell_delta": "highest minus lowest cell voltage, volts",
    "temperature_max": "highest temperature sensor, degrees Celsius",
    "mos_temperature": "MOSFET temperature, degrees Celsius",
    "charge_enabled": "1 while the charge switch is on",
    "discharge_enabled": "1 while the discharge switch is on",
    "balancing": "1 while balancing",
    "alarms": "number of active alarms",
    "charge_voltage_limit": "charge voltage limit, volts",
    "charge_current_limit": "charge current limit, amperes",
    "discharge_current_limit": "discharge current limit, amperes",
    "time_to_go_seconds": "time until empty/full at the present current, seconds",
}
HEALTH_COUNTERS = ("samples", "connects", "drops", "timeouts", "corrupt_frames", "implausible")
# status keys of links and sinks that only ever grow
STATUS_COUNTERS = frozenset(
    {
        "requests",
        "reads",
        "writes",
        "rejected",
        "errors",
        "frames_sent",
        "frames_received",
        "rounds",
        "points_sent",
        "points_dropped",
        "points_rejected",
    }
)
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_]")


def label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metric_name(text: str) -> str:
    name = _NAME_BAD.sub("_", text)
    return name if not name[:1].isdigit() else f"_{name}"


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


class Exposition:
    """Metric families in first-seen order, each with HELP/TYPE once and its samples."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, str, list[str]]] = {}

    def add(
        self, name: str, kind: str, help_text: str, labels: Mapping[str, str], value: Any
    ) -> None:
        v = number(value)
        if v is None:
            return
        family = self.families.setdefault(name, (kind, help_text, []))
        label_text = ",".join(f'{k}="{label_value(str(lv))}"' for k, lv in labels.items())
        family[2].append(f"{name}{{{label_text}}} {fmt(v)}" if label_text else f"{name} {fmt(v)}")

    def text(self) -> str:
        out = []
        for name, (kind, help_text, samples) in self.families.items():
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)
        return "\n".join(out) + "\n"


def battery_values(state: BatteryState) -> dict[str, Any]:
    values = scalar_values(state)
    values["time_to_go_seconds"] = state.time_to_go_s
    return values


def add_status(exp: Exposition, kind: str, name: str, status: Mapping[str, Any]) -> None:
    """A link's or sink's status dict: numbers/booleans as gauges or counters, text as info."""
    labels = {kind: name}
    for key, value in status.items():
        metric = metric_name(f"batmux_{kind}_{key}")
        if isinstance(value, str):
            if key in ("state", "limit_reason", "type"):
                exp.add(
                    f"{metric}_info",
                    "gauge",
                    f"{kind} {key} (in a label)",
                    {**labels, key: value},
                    1,
                )
        elif key in STATUS_COUNTERS:
            exp.add(f"{metric}_total", "counter", f"{kind} {key} since start", labels, value)
        else:
            exp.add(metric, "gauge", f"{kind} {key}", labels, value)


def build_metrics(
    states: Iterable[BatteryState],
    links: Mapping[str, Mapping[str, Any]] | None = None,
    sinks: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    exp = Exposition()
    states = list(states)
    for state in states:
        labels = {"battery": state.name}
        for key, value in battery_values(state).items():
            exp.add(f"batmux_battery_{key}", "gauge", GAUGES[key], labels, value)
    for state in states:
        if state.sample is not None:
            for i, v in enumerate(state.sample.cell_voltages_v, 1):
                exp.add(
                    "batmux_battery_cell_voltage",
                    "gauge",
                    "cell voltage, volts",
                    {"battery": state.name, "cell": str(i)},
                    v,
                )
    for state in states:
        labels = {"battery": state.name}
        for key, what in (("charged", "charged into"), ("discharged", "discharged from")):
            exp.add(
                f"batmux_battery_{key}_kwh_total",
                "counter",
                f"energy {what} the battery, kWh",
                labels,
                getattr(state.meters, f"{key}_kwh"),
            )
    for state in states:
        if state.is_group:
            continue
        for key in (*HEALTH_COUNTERS, "errors"):
            exp.add(
                f"batmux_device_{key}_total",
                "counter",
                f"device {key.replace('_', ' ')} since start",
                {"battery": state.name},
                state.diagnostics.get(key),
            )
    for name, status in (links or {}).items():
        add_status(exp, "link", name, status)
    for name, status in (sinks or {}).items():
        add_status(exp, "sink", name, status)
    return exp.text()
