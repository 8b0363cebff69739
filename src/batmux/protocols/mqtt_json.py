"""Battery JSON over MQTT: dbus-mqtt-battery's schema (both ways) and batmux's own state JSON.

dbus-mqtt-battery (mr-manuel) input, minimum ``Dc.Power``, ``Dc.Voltage``, ``Soc``:

    {"Dc": {"Power": -520.3, "Voltage": 52.03, "Temperature": 24},   # "Dc" may nest under "0"
     "Soc": 62, "InstalledCapacity": 280,
     "Voltages": {"Cell1": 3.251, "Cell2": 3.262}, "Info": {"MaxChargeVoltage": 55.2}}

Missing values are derived as that driver does: current = P/V; consumed/remaining Ah from each
other or from SoC × installed capacity; min/max cell and ids from ``Voltages``.
``ConsumedAmphours`` is positive in this schema (Victron's D-Bus uses negative); a negative
input is taken by its magnitude.

What the BMS says itself is kept, as dbus-mqtt-battery keeps it: ``Info`` limits go under the
keys every BMS-limit source uses (``charge_current_limit``… as the CAN codecs), which cap
batmux's own limits (core.limits); ``TimeToGo`` is the sample's ``time_to_go_s`` (used instead
of batmux's estimate); ``System`` cell ids become ``min_cell_id``/``max_cell_id``, ``Balances``
the ``balancing_cells`` mask, cell temperatures join ``temperatures_c`` (so the limits see the
coldest and hottest cell); values without a model field (``History.*``, cell-temperature ids,
``Dc.Temperature`` as sent) stay in ``extra`` under their D-Bus path (``/History/TotalAhDrawn``),
which Venus and ``mqtt_json_output`` publish as sent (``device_paths``).

A payload never raises anything but ``MqttJsonError`` (a 400-digit integer included).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.cells import (
    balancing_cells,
    battery_temperature_c,
    cell_id,
    cells_per_battery,
    pack_sum_v,
    series_cells,
)
from batmux.model.sample import JSON_NAMES, BatterySample, ExtraValue, device_paths
from batmux.model.state import BatteryState

TTG_FLOOR_PCT = 10.0  # discharging time-to-go runs to this SoC (dbus-mqtt-battery default)

# Victron /Alarms/<name> → normalized alarm (level 2 = alarm, 1 = warning).
VICTRON_ALARMS: dict[str, Alarm] = {
    "LowVoltage": Alarm.PACK_UNDERVOLTAGE,
    "HighVoltage": Alarm.PACK_OVERVOLTAGE,
    "LowCellVoltage": Alarm.CELL_UNDERVOLTAGE,
    "HighCellVoltage": Alarm.CELL_OVERVOLTAGE,
    "LowSoc": Alarm.LOW_SOC,
    "HighChargeCurrent": Alarm.CHARGE_OVERCURRENT,
    "HighDischargeCurrent": Alarm.DISCHARGE_OVERCURRENT,
    "CellImbalance": Alarm.CELL_IMBALANCE,
    "InternalFailure": Alarm.BMS_FAULT,
    "HighChargeTemperature": Alarm.CHARGE_OVERTEMP,
    "LowChargeTemperature": Alarm.CHARGE_UNDERTEMP,
    "HighTemperature": Alarm.DISCHARGE_OVERTEMP,
    "LowTemperature": Alarm.DISCHARGE_UNDERTEMP,
    "HighInternalTemperature": Alarm.MOS_OVERTEMP,
}
ALARM_TO_VICTRON: dict[Alarm, str] = {a: n for n, a in VICTRON_ALARMS.items()}
# Info.* → the extra keys core.limits reads as the BMS's own limits (shared with the CAN codecs).
INFO_LIMITS = {
    "MaxChargeVoltage": "charge_voltage_limit",
    "MaxChargeCurrent": "charge_current_limit",
    "MaxDischargeCurrent": "discharge_current_limit",
    "BatteryLowVoltage": "discharge_voltage_limit",
}
# Kept as sent under their D-Bus path: batmux has no field for them. The energy counters are
# not: batmux's own meters (never going backwards) are what every output publishes.
HISTORY_KEPT = (
    "DeepestDischarge", "LastDischarge", "AverageDischarge", "TotalAhDrawn", "FullDischarges",
    "AutomaticSyncs", "LowVoltageAlarms", "HighVoltageAlarms", "MinimumVoltage",
    "MaximumVoltage", "MinimumCellVoltage", "MaximumCellVoltage", "MinimumTemperature",
    "MaximumTemperature", "TimeSinceLastFullCharge",
)  # fmt: skip
SYSTEM_KEPT = (
    "MinCellVoltage", "MaxCellVoltage", "MinCellTemperature", "MaxCellTemperature",
    "MinTemperatureCellId", "MaxTemperatureCellId",
)  # fmt: skip
MAX_CELLS = 256  # a "Cell99999" key is not a cell number to shift a mask by
CELL_KEY = re.compile(r"Cell([1-9][0-9]{0,2})", re.ASCII)


class MqttJsonError(ProtocolError):
    """A payload that is not JSON, or a field of the wrong type."""


# -- reading helpers -------------------------------------------------------------------------
def load(payload: bytes | str) -> dict[str, Any]:
    """JSON object from a payload; unwraps ``{"value": "<json string>"}`` (Node-RED style)."""
    try:
        data = json.loads(payload)
        if isinstance(data, dict) and set(data) == {"value"} and isinstance(data["value"], str):
            data = json.loads(data["value"])
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MqttJsonError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MqttJsonError(f"payload must be a JSON object, got {type(data).__name__}")
    return data


def _num(obj: Mapping[str, Any], key: str, where: str = "") -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            number = float(value)  # a 400-digit integer overflows here
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise MqttJsonError(f"{where}{key}: expected a finite number, got {_short(value)}")


def _short(value: Any) -> str:
    """A value for an error message: a 5,000-digit integer is not printed whole."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # beyond Python's int → str digit limit
            return "an integer of more than 4300 digits"
    if isinstance(value, list | dict):  # repr of a deeply nested one could recurse too far
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    return f"{value!r:.40}"


def _text(obj: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MqttJsonError(f"{where}{key}: expected a string, got {_short(value)}")
    return value[:32]


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MqttJsonError(f"{key}: expected an object, got {type(value).__name__}")
    return value


def _flag(obj: Mapping[str, Any], key: str) -> bool | None:
    value = _num(obj, key)
    return None if value is None else value != 0


def time_to_go_s(
    current_a: float | None,
    installed_ah: float | None,
    remaining_ah: float | None,
    soc_floor_pct: float = TTG_FLOOR_PCT,
) -> float | None:
    """Seconds to full (charging) or to the SoC floor (discharging); None at rest/unknown."""
    if current_a is None or installed_ah is None or remaining_ah is None or current_a == 0:
        return None
    if current_a > 0:
        ah = installed_ah - remaining_ah
    else:
        ah = remaining_ah - installed_ah * soc_floor_pct / 100
    return round(max(0.0, ah) / abs(current_a) * 3600)


def _cells(voltages: Mapping[str, Any]) -> dict[str, float]:
    """``CellN`` entries in cell order (``Sum``/``Diff`` skipped)."""
    cells: dict[str, float] = {}
    for key in voltages:
        if key in ("Sum", "Diff"):
            continue
        value = _num(voltages, key, "Voltages.")
        if value is not None:
            cells[key] = value
    return dict(sorted(cells.items(), key=lambda kv: (len(kv[0]), kv[0])))


# -- dbus-mqtt-battery → sample -------------------------------------------------------------
def parse_battery_payload(payload: bytes | str, timestamp: float) -> BatterySample:
    data = load(payload)
    dc = _obj(data, "Dc")
    if "0" in dc:
        dc = _obj(dc, "0")
    voltage = _num(dc, "Voltage", "Dc.")
    power = _num(dc, "Power", "Dc.")
    current = _num(dc, "Current", "Dc.")
    soc = _num(data, "Soc")
    if voltage is None or soc is None or (power is None and current is None):
        raise MqttJsonError("need at least Dc.Voltage, Soc and Dc.Power (or Dc.Current)")
    if current is None and power is not None:
        current = round(power / voltage, 3) if voltage else 0.0

    installed = _num(data, "InstalledCapacity")
    remaining = _num(data, "Capacity")
    consumed = _num(data, "ConsumedAmphours")
    consumed = None if consumed is None else abs(consumed)
    if installed is not None:
        if remaining is not None and consumed is None:
            consumed = round(installed - remaining, 3)
        elif consumed is not None and remaining is None:
            remaining = round(installed - consumed, 3)
        elif remaining is None and consumed is None:
            remaining = round(installed * soc / 100, 2)
            consumed = round(installed * (100 - soc) / 100, 2)

    extra: dict[str, ExtraValue] = {}
    if consumed is not None:
        extra["consumed_ah"] = consumed
    ttg = _num(data, "TimeToGo")
    if ttg is not None:
        extra["time_to_go_s"] = ttg  # the BMS's own: used instead of batmux's estimate
    info = _obj(data, "Info")
    for key, name in INFO_LIMITS.items():
        value = _num(info, key, "Info.")
        if value is not None:
            extra[name] = value

    system = _obj(data, "System")
    cells = _cells(_obj(data, "Voltages"))
    _keep_system(system, extra, has_cells=bool(cells))
    history = _obj(data, "History")
    for key in HISTORY_KEPT:
        value = _num(history, key, "History.")
        if value is not None:
            extra[f"/History/{key}"] = value

    temperature = _num(dc, "Temperature", "Dc.")
    temps = [temperature] if temperature is not None else []
    if temperature is not None:
        extra["/Dc/0/Temperature"] = temperature  # as sent, whatever else joins the probes
    for key in ("MinCellTemperature", "MaxCellTemperature"):
        value = _num(system, key, "System.")
        if value is not None:  # the coldest and hottest cell must reach the limits
            temps.append(value)

    alarms: set[Alarm] = set()
    warnings: set[Alarm] = set()
    for key, level in _obj(data, "Alarms").items():
        value = _num({key: level}, key, "Alarms.")
        if key in VICTRON_ALARMS and value:
            (alarms if value >= 2 else warnings).add(VICTRON_ALARMS[key])

    io = _obj(data, "Io")
    balances = _obj(data, "Balances")
    balancing = _flag(data, "Balancing")
    if balances:
        mask = _balance_mask(balances)
        if balancing is None:
            balancing = mask != 0
        extra["balancing_cells"] = mask
    return BatterySample(
        timestamp=timestamp,
        voltage_v=voltage,
        current_a=current,
        power_w=power,
        soc_pct=soc,
        charge_ah=remaining,
        capacity_ah=installed,
        cycles=_num(history, "ChargeCycles", "History."),
        cell_voltages_v=tuple(cells.values()),
        temperatures_c=tuple(temps),
        mos_temperature_c=_num(system, "MOSTemperature", "System."),
        charge_enabled=_flag(io, "AllowToCharge"),
        discharge_enabled=_flag(io, "AllowToDischarge"),
        balancing=balancing,
        soh_pct=_num(data, "Soh"),
        alarms=frozenset(alarms),
        warnings=frozenset(warnings),
        extra=extra,
    )


def _keep_system(system: Mapping[str, Any], extra: dict[str, ExtraValue], has_cells: bool) -> None:
    """``System`` values as the BMS sent them (its cell ids win over ones batmux derives)."""
    for key, name in (("MinVoltageCellId", "min_cell_id"), ("MaxVoltageCellId", "max_cell_id")):
        value = _text(system, key, "System.")
        if value is not None:
            extra[name] = value
    for key in SYSTEM_KEPT:
        read = _text if key.endswith("Id") else _num
        value = read(system, key, "System.")
        if value is not None:
            extra[f"/System/{key}"] = value
    if not has_cells:  # no cell list: the state JSON shows the BMS's extremes
        for key, name in (("MinCellVoltage", "cell_min"), ("MaxCellVoltage", "cell_max")):
            value = _num(system, key, "System.")
            if value is not None:
                extra[name] = value


def _balance_mask(balances: Mapping[str, Any]) -> int:
    """``Balances.CellN`` flags as the ``balancing_cells`` bitmask (bit 0 = Cell1)."""
    mask = 0
    for key in balances:
        on = _flag(balances, key)
        match = CELL_KEY.fullmatch(key)
        if on and match and int(match[1]) <= MAX_CELLS:
            mask |= 1 << (int(match[1]) - 1)
    return mask


# -- state → dbus-mqtt-battery --------------------------------------------------------------
def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def build_payload(state: BatteryState) -> dict[str, Any]:
    """A battery/group in dbus-mqtt-battery's schema (what its D-Bus driver consumes)."""
    s = state.sample
    if s is None:
        return {}
    dc: dict[str, Any] = {}
    _put(dc, "Power", s.power_w)
    _put(dc, "Voltage", s.voltage_v)
    _put(dc, "Current", s.current_a)
    _put(dc, "Temperature", battery_temperature_c(s))  # the rule Venus D-Bus uses too
    out: dict[str, Any] = {"Dc": dc}
    _put(out, "Soc", s.soc_pct)
    _put(out, "Soh", s.soh_pct)
    _put(out, "InstalledCapacity", s.capacity_ah)
    _put(out, "Capacity", s.charge_ah)
    if s.capacity_ah is not None and s.charge_ah is not None:
        out["ConsumedAmphours"] = round(max(0.0, s.capacity_ah - s.charge_ah), 3)
    _put(out, "TimeToGo", state.time_to_go_s)  # the bank engine's, as on Venus and in HA
    if state.limits is not None:
        info: dict[str, Any] = {}
        # No CVL (no cell data) is left out, never sent as 0 V.
        _put(info, "MaxChargeVoltage", state.limits.known_charge_voltage_v)
        info["MaxChargeCurrent"] = state.limits.charge_current_a
        info["MaxDischargeCurrent"] = state.limits.discharge_current_a
        _put(info, "BatteryLowVoltage", state.limits.discharge_voltage_v)
        out["Info"] = info
    alarms = {name: 0 for name in VICTRON_ALARMS}
    for alarm in s.warnings:
        if alarm in ALARM_TO_VICTRON:
            alarms[ALARM_TO_VICTRON[alarm]] = 1
    for alarm in s.alarms:
        if alarm in ALARM_TO_VICTRON:
            alarms[ALARM_TO_VICTRON[alarm]] = 2
    out["Alarms"] = alarms
    system: dict[str, Any] = {}
    if s.cell_voltages_v:
        system.update(
            MinCellVoltage=s.min_cell_v,
            MaxCellVoltage=s.max_cell_v,
            MinVoltageCellId=cell_id(s, "min"),
            MaxVoltageCellId=cell_id(s, "max"),
            NrOfCellsPerBattery=cells_per_battery(s),
        )
        # A parallel bank: one pack's worth of cells, as on Venus D-Bus (model.cells).
        voltages = {f"Cell{n}": v for n, v in enumerate(series_cells(s), 1)}
        voltages["Sum"] = pack_sum_v(s)  # a parallel bank: the mean pack sum
        voltages["Diff"] = s.delta_cell_v
        out["Voltages"] = voltages
    _put(system, "MinCellTemperature", s.min_temperature_c)
    _put(system, "MaxCellTemperature", s.max_temperature_c)
    _put(system, "MOSTemperature", s.mos_temperature_c)
    if state.members is not None:
        system.update(
            NrOfModulesOnline=state.members.online,
            NrOfModulesOffline=state.members.offline,
            NrOfModulesBlockingCharge=state.members.blocking_charge,
            NrOfModulesBlockingDischarge=state.members.blocking_discharge,
        )
    if system:
        out["System"] = system
    io: dict[str, Any] = {}
    for key, value in (
        ("AllowToCharge", s.charge_enabled),
        ("AllowToDischarge", s.discharge_enabled),
    ):
        _put(io, key, None if value is None else int(value))
    if io:
        out["Io"] = io
    if s.balancing is not None:
        out["Balancing"] = int(s.balancing)
    flags = balancing_cells(s)
    if flags and None not in flags:
        out["Balances"] = {f"Cell{n}": flag for n, flag in enumerate(flags, 1)}
    out["History"] = {
        "ChargedEnergy": round(state.meters.charged_kwh, 4),
        "DischargedEnergy": round(state.meters.discharged_kwh, 4),
        "ChargeCycles": s.cycles if s.cycles is not None else round(state.meters.cycles, 3),
    }
    for path, value in device_paths(s).items():  # what the BMS sent itself, as it sent it
        top, _, leaf = path.strip("/").rpartition("/")
        section = top.split("/")[0]  # "Dc/0" → "Dc": this schema's Dc is flat
        if section and leaf:
            out.setdefault(section, {})[leaf] = value
    return out


# -- batmux's own state JSON ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RemoteState:
    """What another batmux published at ``<base_topic>/<name>/state``."""

    sample: BatterySample
    available: bool


def parse_batmux_state(payload: bytes | str, received_at: float) -> RemoteState:
    """``BatteryState.to_json()`` back into a sample; unknown keys go to ``extra``."""
    data = load(payload)
    available = data.get("available", True)
    if not isinstance(available, bool):
        raise MqttJsonError("available: expected true/false")
    fields: dict[str, Any] = {}
    names = {json_name: model for model, json_name in JSON_NAMES.items()}
    extra: dict[str, ExtraValue] = {}
    for key, value in data.items():
        model = names.get(key)
        if model is None:
            if key in ("timestamp", "available"):
                continue
            if isinstance(value, bool | str):
                extra[key] = value
            elif isinstance(value, int | float):  # finite and float-sized, or an error
                number = _num({key: value}, key)
                extra[key] = value if isinstance(value, int) or number is None else number
            continue
        fields[model] = _state_value(key, value)
    timestamp = _num(data, "timestamp")
    return RemoteState(
        BatterySample(timestamp=timestamp or received_at, extra=extra, **fields), available
    )


def _state_value(key: str, value: Any) -> Any:
    if key in ("cell_voltages", "temperatures"):
        if not isinstance(value, list):
            raise MqttJsonError(f"{key}: expected a list")
        numbers = [_num({key: v}, key) for v in value]
        if key == "temperatures":  # a null is an absent probe: left out, as our codecs do
            return tuple(n for n in numbers if n is not None)
        if None in numbers:  # a cell's place is its number: a gap cannot be left out
            raise MqttJsonError(f"{key}: null in place of cell {numbers.index(None) + 1}")
        return tuple(numbers)
    if key in ("alarms", "warnings"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MqttJsonError(f"{key}: expected a list of names")
        known = {a.value for a in Alarm}
        return frozenset(Alarm(v) for v in value if v in known)
    if key in ("charge_enabled", "discharge_enabled", "balancing"):
        if not isinstance(value, bool):
            raise MqttJsonError(f"{key}: expected true/false")
        return value
    return _num({key: value}, key)
