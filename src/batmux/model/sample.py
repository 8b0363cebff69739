"""The normalized battery sample.

Sign convention, written once: ``current_a`` and ``power_w`` are **positive while charging**
(current into the battery) and negative while discharging. Every codec converts to this.
Unknown values are ``None``, never NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from batmux.model.alarms import Alarm

ExtraValue = float | int | str | bool


@dataclass(frozen=True, slots=True)
class BatterySample:
    """One reading of one battery. Derived values (power, cell statistics) are computed here."""

    timestamp: float
    voltage_v: float | None = None
    current_a: float | None = None
    power_w: float | None = None
    soc_pct: float | None = None
    charge_ah: float | None = None
    capacity_ah: float | None = None
    cycles: float | None = None
    cell_voltages_v: tuple[float, ...] = ()
    temperatures_c: tuple[float, ...] = ()
    mos_temperature_c: float | None = None
    charge_enabled: bool | None = None
    discharge_enabled: bool | None = None
    balancing: bool | None = None
    soh_pct: float | None = None
    alarms: frozenset[Alarm] = frozenset()
    warnings: frozenset[Alarm] = frozenset()
    # Values a family carries beyond the common model (uptime_s, balance_current, alarm_bits...).
    extra: Mapping[str, ExtraValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.power_w is None and self.voltage_v is not None and self.current_a is not None:
            object.__setattr__(self, "power_w", round(self.voltage_v * self.current_a, 3))

    # -- derived cell statistics -------------------------------------------------------------
    @property
    def min_cell_v(self) -> float | None:
        return min(self.cell_voltages_v) if self.cell_voltages_v else None

    @property
    def max_cell_v(self) -> float | None:
        return max(self.cell_voltages_v) if self.cell_voltages_v else None

    @property
    def delta_cell_v(self) -> float | None:
        if not self.cell_voltages_v:
            return None
        return round(max(self.cell_voltages_v) - min(self.cell_voltages_v), 4)

    @property
    def min_cell_id(self) -> int | None:
        """1-based number of the lowest cell."""
        cells = self.cell_voltages_v
        return cells.index(min(cells)) + 1 if cells else None

    @property
    def max_cell_id(self) -> int | None:
        cells = self.cell_voltages_v
        return cells.index(max(cells)) + 1 if cells else None

    @property
    def min_temperature_c(self) -> float | None:
        return min(self.temperatures_c) if self.temperatures_c else None

    @property
    def max_temperature_c(self) -> float | None:
        return max(self.temperatures_c) if self.temperatures_c else None

    def with_(self, **changes: Any) -> BatterySample:
        """A copy with some fields changed; power is re-derived unless given."""
        if ("voltage_v" in changes or "current_a" in changes) and "power_w" not in changes:
            changes["power_w"] = None
        return replace(self, **changes)

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The public field names of ``batmux decode`` and the MQTT state; None omitted."""
        out: dict[str, Any] = {}
        for model_name, json_name in JSON_NAMES.items():
            value = getattr(self, model_name)
            if value is None or value == () or value == frozenset():
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, frozenset):
                value = sorted(str(a) for a in value)
            out[json_name] = value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def cell_stats_json(self) -> dict[str, Any]:
        if not self.cell_voltages_v:
            return {}
        return {
            "cell_min": self.min_cell_v,
            "cell_max": self.max_cell_v,
            "cell_delta": self.delta_cell_v,
            "cell_min_id": self.min_cell_id,
            "cell_max_id": self.max_cell_id,
        }


JSON_NAMES: dict[str, str] = {
    "voltage_v": "voltage",
    "current_a": "current",
    "power_w": "power",
    "soc_pct": "soc",
    "charge_ah": "charge",
    "capacity_ah": "capacity",
    "cycles": "cycles",
    "cell_voltages_v": "cell_voltages",
    "temperatures_c": "temperatures",
    "mos_temperature_c": "mos_temperature",
    "charge_enabled": "charge_enabled",
    "discharge_enabled": "discharge_enabled",
    "balancing": "balancing",
    "soh_pct": "soh",
    "alarms": "alarms",
    "warnings": "warnings",
}
