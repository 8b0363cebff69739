"""Fault injection for commissioning: make the pipeline see a fault so a user can prove that
the inverter stops (limits 0 A, alarm flags on every output). Pure: time is passed in.

Opt-in (``allow_inject: true`` on the battery or at the top level); set through the MQTT
topic ``<base>/<pack>/inject/set`` or ``batmux inject PACK FAULT [--for S]``. The fault is
applied to the sample after the source, before plausibility and limits, so everything
downstream (banks, limits, MQTT/HA, Venus, BYD/Pylontech outputs) sees it like a real one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample

FAULTS = ("over_temperature", "cell_over_voltage", "cell_under_voltage", "stale", "clear")
HOT_C = 70.0  # above every charge/discharge temperature table's cut-off
CELL_STEP_V = 0.25  # the highest (lowest) cell moved by this: past the cell tables' ends
CELL_BOUNDS_V = (0.6, 4.9)  # kept inside plausibility's range, so the sample is not dropped


@dataclass(frozen=True, slots=True)
class Injection:
    fault: str
    until: float | None  # clock time it ends by itself; None = until ``clear``


def parse_request(payload: str) -> tuple[str, float | None]:
    """``over_temperature``, ``over_temperature 60`` or ``{"fault": ..., "for": 60}``."""
    text = payload.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("JSON payload must be an object")
        fault, duration = str(data.get("fault", "")), data.get("for")
    else:
        fault, _, rest = text.partition(" ")
        duration = rest.strip() or None
    fault = fault.lower()
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault[:30]!r}; known: {', '.join(FAULTS)}")
    try:
        seconds = None if duration is None else float(duration)
    except (TypeError, ValueError):
        raise ValueError(f"duration must be seconds, got {str(duration)[:20]!r}") from None
    if seconds is not None and not 0 < seconds < 1e7:
        raise ValueError("duration must be > 0 s")
    return fault, seconds


def apply(sample: BatterySample, fault: str) -> BatterySample | None:
    """The sample as the pipeline should see it under ``fault``; None for ``stale`` (the
    sample is dropped, so the battery goes stale like a silent one)."""
    if fault == "stale":
        return None
    alarms = set(sample.alarms)
    changes: dict[str, object] = {}
    if fault == "over_temperature":
        alarms |= {Alarm.CHARGE_OVERTEMP, Alarm.DISCHARGE_OVERTEMP}
        changes["temperatures_c"] = tuple(HOT_C for _ in sample.temperatures_c) or (HOT_C,)
    elif fault in ("cell_over_voltage", "cell_under_voltage"):
        over = fault == "cell_over_voltage"
        alarms.add(Alarm.CELL_OVERVOLTAGE if over else Alarm.CELL_UNDERVOLTAGE)
        cells = list(sample.cell_voltages_v)
        if cells:
            i = cells.index(max(cells) if over else min(cells))
            moved = cells[i] + (CELL_STEP_V if over else -CELL_STEP_V)
            cells[i] = round(min(max(moved, CELL_BOUNDS_V[0]), CELL_BOUNDS_V[1]), 4)
            changes["cell_voltages_v"] = tuple(cells)
    extra = {**sample.extra, "injected_fault": fault}
    return sample.with_(alarms=frozenset(alarms), extra=extra, **changes)


class Injector:
    """The active injection per battery; ``active`` ends one whose time is up."""

    def __init__(self) -> None:
        self._active: dict[str, Injection] = {}

    def set(self, name: str, fault: str, now: float, for_s: float | None = None) -> None:
        if fault == "clear":
            self._active.pop(name, None)
        else:
            self._active[name] = Injection(fault, None if for_s is None else now + for_s)

    def get(self, name: str) -> Injection | None:
        return self._active.get(name)

    def active(self, name: str, now: float) -> Injection | None:
        """The injection in force (None once it ran out; the caller logs the end)."""
        injection = self._active.get(name)
        if injection is not None and injection.until is not None and now >= injection.until:
            del self._active[name]
            return None
        return injection
