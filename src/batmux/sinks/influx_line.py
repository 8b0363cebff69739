"""InfluxDB line protocol for published states (pure: states in, text lines out).

One point per battery/group per publish: ``<measurement>,battery=<name> <fields> <ms>``.
Field names are the MQTT state's (``soc``, ``voltage``, ``current``, ``power``…), cells as
``cell1``…``cellN``, temperatures as ``temp1``…; ``online`` is a boolean field so an offline
battery still leaves a point. Timestamps are milliseconds (``precision=ms``).
"""

from __future__ import annotations

import math
from typing import Any

from batmux.model.state import BatteryState
from batmux.sinks.state_values import scalar_values

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_TAG_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})


def escape_measurement(name: str) -> str:
    return name.replace("\\", "\\\\").translate(_MEASUREMENT_ESCAPES)


def escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").translate(_TAG_ESCAPES)


def field_value(value: Any) -> str | None:
    """A field value in line-protocol syntax; None for what cannot be written (None, NaN)."""
    if value.__class__ is float:  # the common case first: this runs ~40 times per line
        return repr(value) if math.isfinite(value) else None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{float(value)!r}"  # always float: a field's type must never change
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def state_fields(state: BatteryState) -> dict[str, Any]:
    fields = scalar_values(state)
    s = state.sample
    if s is not None:
        fields.update({f"cell{i}": v for i, v in enumerate(s.cell_voltages_v, 1)})
        fields.update({f"temp{i}": v for i, v in enumerate(s.temperatures_c, 1)})
    fields["charged_kwh"] = state.meters.charged_kwh
    fields["discharged_kwh"] = state.meters.discharged_kwh
    return fields


def state_line(state: BatteryState, measurement: str, t_ms: int) -> str:
    parts = []
    for key, value in state_fields(state).items():  # keys are fixed identifiers: no escaping
        text = field_value(value)
        if text is not None:
            parts.append(f"{key}={text}")
    tag = escape_tag(state.name)
    return f"{escape_measurement(measurement)},battery={tag} {','.join(parts)} {t_ms}"


def round_lines(states: Any, measurement: str, t: float) -> list[str]:
    """The lines of one publish round (time ``t`` in seconds)."""
    t_ms = int(t * 1000)
    return [state_line(state, measurement, t_ms) for state in states]
