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

_set = object.__setattr__  # how a frozen dataclass sets its own fields


# weakref_slot: the plausibility check remembers its verdicts only while a sample lives
@dataclass(frozen=True, slots=True, init=False, weakref_slot=True)
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

    # Written out instead of the generated __init__ + __post_init__: a sample is built for
    # every frame of every battery, and this is about a third cheaper. Same fields, same
    # defaults, same rule: power is derived from V·I when not given.
    def __init__(
        self,
        timestamp: float,
        voltage_v: float | None = None,
        current_a: float | None = None,
        power_w: float | None = None,
        soc_pct: float | None = None,
        charge_ah: float | None = None,
        capacity_ah: float | None = None,
        cycles: float | None = None,
        cell_voltages_v: tuple[float, ...] = (),
        temperatures_c: tuple[float, ...] = (),
        mos_temperature_c: float | None = None,
        charge_enabled: bool | None = None,
        discharge_enabled: bool | None = None,
        balancing: bool | None = None,
        soh_pct: float | None = None,
        alarms: frozenset[Alarm] = frozenset(),
        warnings: frozenset[Alarm] = frozenset(),
        extra: Mapping[str, ExtraValue] | None = None,
    ) -> None:
        if power_w is None and voltage_v is not None and current_a is not None:
            power_w = round(voltage_v * current_a, 3)
        _set(self, "timestamp", timestamp)
        _set(self, "voltage_v", voltage_v)
        _set(self, "current_a", current_a)
        _set(self, "power_w", power_w)
        _set(self, "soc_pct", soc_pct)
        _set(self, "charge_ah", charge_ah)
        _set(self, "capacity_ah", capacity_ah)
        _set(self, "cycles", cycles)
        _set(self, "cell_voltages_v", cell_voltages_v)
        _set(self, "temperatures_c", temperatures_c)
        _set(self, "mos_temperature_c", mos_temperature_c)
        _set(self, "charge_enabled", charge_enabled)
        _set(self, "discharge_enabled", discharge_enabled)
        _set(self, "balancing", balancing)
        _set(self, "soh_pct", soh_pct)
        _set(self, "alarms", alarms)
        _set(self, "warnings", warnings)
        _set(self, "extra", {} if extra is None else extra)

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
            if value is None:
                continue
            if isinstance(value, tuple):
                if not value:
                    continue
                value = list(value)
            elif isinstance(value, frozenset):
                if not value:
                    continue
                value = sorted([str(a) for a in value])
            out[json_name] = value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def cell_stats_json(self) -> dict[str, Any]:
        """The derived cell statistics (same values as the properties, one pass each)."""
        cells = self.cell_voltages_v
        if not cells:
            return {}
        low, high = min(cells), max(cells)
        return {
            "cell_min": low,
            "cell_max": high,
            "cell_delta": round(high - low, 4),
            "cell_min_id": cells.index(low) + 1,
            "cell_max_id": cells.index(high) + 1,
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


# The only device paths passed through: what the decoders keep (mqtt_json's History/System and
# its Dc temperature). Never /Info, /Io, /Alarms or /Dc/0/Current: a remote batmux's state JSON
# keeps unknown keys, and one named "/Info/MaxChargeCurrent" must not override batmux's limits
# (0 A when stale) on D-Bus or in mqtt_json_output.
DEVICE_PATH_PREFIXES = ("/History/", "/System/")
DEVICE_PATHS = frozenset({"/Dc/0/Temperature"})


def device_paths(sample: BatterySample) -> dict[str, ExtraValue]:
    """Values a device sent that batmux has no field for, kept in ``extra`` under their Victron
    D-Bus path (``/History/TotalAhDrawn``): sinks that speak Victron publish them as sent."""
    return {
        k: v
        for k, v in sample.extra.items()
        if k in DEVICE_PATHS or k.startswith(DEVICE_PATH_PREFIXES)
    }
