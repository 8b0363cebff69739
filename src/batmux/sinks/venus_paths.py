"""Pure builder: one ``BatteryState`` → every D-Bus path of a Venus OS battery service.

Values follow Victron's conventions (SI units, energy in kWh, °C; current + = charging;
``/ConsumedAmphours`` negative; alarms 0 ok / 1 warning / 2 alarm). ``None`` is "unknown" and
goes on the bus as an empty array, as Venus does. Blocking is 0 A: DVCC ignores ``/Io/AllowTo*``.
"""

from __future__ import annotations

from functools import lru_cache

from batmux import __version__
from batmux.core.history import HistoryTracker
from batmux.model.alarms import Alarm
from batmux.model.cells import (
    balancing_cells,
    battery_temperature_c,
    cell_id,
    cells_per_battery,
    pack_sum_v,
    series_cells,
)
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.sinks.venus_config import VenusConfig

Value = float | int | str | None

VENUS_ALARMS: dict[str, tuple[Alarm, ...]] = {
    "LowVoltage": (Alarm.PACK_UNDERVOLTAGE,),
    "HighVoltage": (Alarm.PACK_OVERVOLTAGE,),
    "LowCellVoltage": (Alarm.CELL_UNDERVOLTAGE,),
    "HighCellVoltage": (Alarm.CELL_OVERVOLTAGE,),
    "LowSoc": (Alarm.LOW_SOC,),
    "StateOfHealth": (),
    "HighChargeCurrent": (Alarm.CHARGE_OVERCURRENT,),
    "HighDischargeCurrent": (Alarm.DISCHARGE_OVERCURRENT, Alarm.SHORT_CIRCUIT),
    "HighCurrent": (Alarm.CHARGE_OVERCURRENT, Alarm.DISCHARGE_OVERCURRENT, Alarm.SHORT_CIRCUIT),
    "CellImbalance": (Alarm.CELL_IMBALANCE,),
    "InternalFailure": (Alarm.BMS_FAULT, Alarm.SENSOR_FAULT),
    "HighChargeTemperature": (Alarm.CHARGE_OVERTEMP,),
    "LowChargeTemperature": (Alarm.CHARGE_UNDERTEMP,),
    "HighTemperature": (Alarm.DISCHARGE_OVERTEMP, Alarm.CHARGE_OVERTEMP),
    "LowTemperature": (Alarm.DISCHARGE_UNDERTEMP, Alarm.CHARGE_UNDERTEMP),
    "BmsCable": (),  # 2 while the data is stale: the link to the BMS is lost
    "HighInternalTemperature": (Alarm.MOS_OVERTEMP,),
    "FuseBlown": (),
}

# /ErrorCode: VE_VDATA_BMS_ERROR_* of victronenergy/veutil inc/veutil/ve_regs_payload.h (what
# the GUI shows through bms_error.cpp). First match wins; only alarms (level 2) are errors.
ERROR_BMS_CABLE = 32  # the data is stale: the link to the BMS is lost
ERROR_CODES: tuple[tuple[int, tuple[Alarm, ...]], ...] = (
    (11, (Alarm.BMS_FAULT,)),  # "Hardware error"
    (7, (Alarm.SENSOR_FAULT,)),  # "Battery measure error"
    (13, (Alarm.CELL_OVERVOLTAGE, Alarm.PACK_OVERVOLTAGE)),  # "Over voltage"
    (14, (Alarm.CELL_UNDERVOLTAGE, Alarm.PACK_UNDERVOLTAGE)),  # "Under voltage"
    (15, (Alarm.CHARGE_OVERTEMP, Alarm.DISCHARGE_OVERTEMP, Alarm.MOS_OVERTEMP)),  # "Over temp."
    (16, (Alarm.CHARGE_UNDERTEMP, Alarm.DISCHARGE_UNDERTEMP)),  # "Under temperature"
)
# The same tables as the publish round reads them: path names made once, sources as sets.
_ALARM_PATHS = tuple((f"/Alarms/{name}", frozenset(src)) for name, src in VENUS_ALARMS.items())
_ALARMS_CLEAR = dict.fromkeys((path for path, _ in _ALARM_PATHS), 0)
_ERROR_SOURCES = tuple((code, frozenset(src)) for code, src in ERROR_CODES)
# /State as dbus-serialbattery sets it (the battery-state enum of Victron's BMSes).
STATE_RUNNING, STATE_ERROR, STATE_STANDBY = 9, 10, 14

WRITABLE = frozenset({"/CustomName"})
CUSTOM_NAME_MAX_LEN = 64  # longer writes are refused (the GX GUI shows far fewer characters)


def version() -> str:
    # The package's own constant: reading distribution metadata on every publish is file I/O.
    return __version__


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _bit(flag: bool | None) -> int | None:
    return None if flag is None else int(flag)


def default_name(cfg: VenusConfig, battery_name: str) -> str:
    """/CustomName when nobody has written one: the configured name, else the battery's."""
    return cfg.custom_name or battery_name


def management_paths(state: BatteryState, cfg: VenusConfig, connected: bool) -> dict[str, Value]:
    kind = "group" if state.is_group else "battery"
    hardware = state.sample.extra.get("hardware_version") if state.sample else None
    return {
        "/Mgmt/ProcessName": "batmux",
        "/Mgmt/ProcessVersion": version(),
        "/Mgmt/Connection": f"batmux {kind} {state.name}",
        "/DeviceInstance": cfg.device_instance,
        "/ProductId": cfg.product_id,
        "/ProductName": cfg.product_name,
        "/FirmwareVersion": version(),
        "/HardwareVersion": hardware if isinstance(hardware, str) else None,
        "/Connected": int(connected),
        "/CustomName": default_name(cfg, state.name),
        "/Serial": cfg.serial or f"batmux-{state.name}",
    }


def build_paths(state: BatteryState, cfg: VenusConfig, is_bms: bool) -> dict[str, Value]:
    """Every path of the service for this state (a stale state gives /Connected 0, 0 A)."""
    fresh = state.available and state.sample is not None
    s = state.sample or BatterySample(timestamp=0.0)
    out = management_paths(state, cfg, fresh)

    remaining, installed = s.charge_ah, s.capacity_ah
    consumed = None
    if remaining is not None and installed is not None:
        consumed = -round(max(installed - remaining, 0.0), 3)
    out.update(
        {
            "/Dc/0/Voltage": _r(s.voltage_v, 3),
            "/Dc/0/Current": _r(s.current_a, 3),
            "/Dc/0/Power": _r(s.power_w, 1),
            "/Dc/0/Temperature": _r(battery_temperature_c(s), 1),
            "/Soc": _r(s.soc_pct, 1),
            "/Soh": _r(s.soh_pct, 1),
            "/Capacity": _r(remaining, 3),
            "/InstalledCapacity": _r(installed, 3),
            "/ConsumedAmphours": consumed,
            # The bank engine's value (core.time_to_go), so D-Bus and the state JSON agree.
            "/TimeToGo": state.time_to_go_s,
        }
    )

    # Limits: stale data, or no limits at all, means 0 A both ways (the safe state).
    limits = state.limits
    ccl = limits.charge_current_a if (limits and fresh) else 0.0
    dcl = limits.discharge_current_a if (limits and fresh) else 0.0
    may_charge = ccl > 0 and s.charge_enabled is not False
    may_discharge = dcl > 0 and s.discharge_enabled is not False
    if is_bms:
        out.update(
            {
                # No CVL (no cell data): unknown, never 0 V, which DVCC would try to follow.
                "/Info/MaxChargeVoltage": _r(limits.known_charge_voltage_v, 3) if limits else None,
                "/Info/MaxChargeCurrent": round(max(ccl, 0.0), 2),
                "/Info/MaxDischargeCurrent": round(max(dcl, 0.0), 2),
                "/Info/BatteryLowVoltage": _r(limits.discharge_voltage_v, 3) if limits else None,
                # Discharge blocked while charging is allowed: the battery asks for a recharge.
                "/Info/ChargeRequest": int(fresh and may_charge and not may_discharge),
            }
        )
    out.update(
        {
            "/Io/AllowToCharge": int(may_charge),
            "/Io/AllowToDischarge": int(may_discharge),
            "/Io/AllowToBalance": _bit(s.balancing),
        }
    )

    cells = series_cells(s)  # a parallel bank: one pack's worth (see model.cells)
    members = state.members
    if members is not None:
        m = members
        counts = (m.online, m.offline, m.blocking_charge, m.blocking_discharge)
    else:
        counts = (int(fresh), int(not fresh), int(not may_charge), int(not may_discharge))
    out.update(
        {
            "/System/MinCellVoltage": _r(s.min_cell_v, 3),
            "/System/MaxCellVoltage": _r(s.max_cell_v, 3),
            "/System/MinVoltageCellId": cell_id(s, "min"),
            "/System/MaxVoltageCellId": cell_id(s, "max"),
            "/System/MinCellTemperature": _r(s.min_temperature_c, 1),
            "/System/MaxCellTemperature": _r(s.max_temperature_c, 1),
            "/System/MOSTemperature": _r(s.mos_temperature_c, 1),
            "/System/NrOfCellsPerBattery": cells_per_battery(s),
            "/System/NrOfModulesOnline": counts[0],
            "/System/NrOfModulesOffline": counts[1],
            "/System/NrOfModulesBlockingCharge": counts[2],
            "/System/NrOfModulesBlockingDischarge": counts[3],
        }
    )
    out.update(
        zip(cell_paths("/Voltages/Cell", len(cells)), [round(v, 3) for v in cells], strict=True)
    )
    out["/Voltages/Sum"] = pack_sum_v(s)  # a parallel bank: the mean pack sum
    out["/Voltages/Diff"] = _r(s.delta_cell_v, 3)
    flags = balancing_cells(s)
    out.update(zip(cell_paths("/Balances/Cell", len(flags)), flags, strict=True))
    balancing = s.balancing
    if balancing is None and flags and None not in flags:
        balancing = any(flags)
    out["/Balancing"] = _bit(balancing)  # 1 while any cell balances (dbus-serialbattery)

    alarms, warnings = s.alarms, s.warnings
    if alarms or warnings:
        for path, sources in _ALARM_PATHS:
            if not sources.isdisjoint(alarms):
                out[path] = 2
            else:
                out[path] = 0 if sources.isdisjoint(warnings) else 1
    else:  # the usual case, and one dict update instead of 36 set tests
        out.update(_ALARMS_CLEAR)
    out["/Alarms/BmsCable"] = 0 if fresh else 2
    out["/ErrorCode"] = error_code(s, fresh)
    out["/State"] = bms_state(s, fresh, may_charge or may_discharge)

    cycles = s.cycles if s.cycles is not None else state.meters.cycles
    out.update(
        {
            "/History/ChargeCycles": _r(cycles, 2),
            "/History/ChargedEnergy": round(state.meters.charged_kwh, 3),
            "/History/DischargedEnergy": round(state.meters.discharged_kwh, 3),
        }
    )
    return out


def error_code(sample: BatterySample, fresh: bool) -> int | None:
    """Victron's BMS error number, or None (no error: the GUI hides the row, as for
    dbus-serialbattery)."""
    if not fresh:
        return ERROR_BMS_CABLE
    alarms = sample.alarms
    if alarms:
        for code, sources in _ERROR_SOURCES:
            if not sources.isdisjoint(alarms):
                return code
    return None


def bms_state(sample: BatterySample, fresh: bool, allowed: bool) -> int:
    """10 error (stale data or a BMS fault), 14 standby (neither direction allowed), 9 running."""
    if not fresh or Alarm.BMS_FAULT in sample.alarms:
        return STATE_ERROR
    return STATE_RUNNING if allowed else STATE_STANDBY


def _neg_ah(ah: float | None) -> float | None:
    """Victron shows drawn/consumed Ah negative (0.0, not -0.0, when nothing was drawn)."""
    return None if ah is None else 0.0 - round(ah, 3)


def history_paths(tracker: HistoryTracker) -> dict[str, Value]:
    """The BMV-style ``/History/*`` paths from the tracker (Ah negative, as on a BMV)."""
    h = tracker.record
    return {
        "/History/MinimumVoltage": _r(h.min_voltage_v, 3),
        "/History/MaximumVoltage": _r(h.max_voltage_v, 3),
        "/History/MinimumCellVoltage": _r(h.min_cell_v, 3),
        "/History/MaximumCellVoltage": _r(h.max_cell_v, 3),
        "/History/MinimumTemperature": _r(h.min_temp_c, 1),
        "/History/MaximumTemperature": _r(h.max_temp_c, 1),
        "/History/DeepestDischarge": _neg_ah(h.deepest_discharge_ah),
        "/History/LastDischarge": _neg_ah(h.last_discharge_ah),
        "/History/AverageDischarge": _neg_ah(h.average_discharge_ah),
        "/History/TotalAhDrawn": _neg_ah(h.total_drawn_ah),
        "/History/FullDischarges": h.full_discharges,
        "/History/AutomaticSyncs": h.full_charges,
        "/History/LowVoltageAlarms": h.low_voltage_alarms,
        "/History/HighVoltageAlarms": h.high_voltage_alarms,
        "/History/TimeSinceLastFullCharge": tracker.since_full_charge_s(),
    }


# -- text and descriptions (GetText / GetDescription) ------------------------------------------

_UNITS: tuple[tuple[str, str], ...] = (
    ("/Dc/0/Voltage", "V"),
    ("/Dc/0/Current", "A"),
    ("/Dc/0/Power", "W"),
    ("/Dc/0/Temperature", "°C"),
    ("/Soc", "%"),
    ("/Soh", "%"),
    ("/Capacity", "Ah"),
    ("/InstalledCapacity", "Ah"),
    ("/ConsumedAmphours", "Ah"),
    ("/TimeToGo", "s"),
    ("/Info/MaxChargeVoltage", "V"),
    ("/Info/BatteryLowVoltage", "V"),
    ("/Info/MaxChargeCurrent", "A"),
    ("/Info/MaxDischargeCurrent", "A"),
    ("/System/MinCellVoltage", "V"),
    ("/System/MaxCellVoltage", "V"),
    ("/System/MinCellTemperature", "°C"),
    ("/System/MaxCellTemperature", "°C"),
    ("/System/MOSTemperature", "°C"),
    ("/Voltages/", "V"),
    ("/History/ChargedEnergy", "kWh"),
    ("/History/DischargedEnergy", "kWh"),
    ("/History/MinimumVoltage", "V"),
    ("/History/MaximumVoltage", "V"),
    ("/History/MinimumCellVoltage", "V"),
    ("/History/MaximumCellVoltage", "V"),
    ("/History/MinimumTemperature", "°C"),
    ("/History/MaximumTemperature", "°C"),
    ("/History/DeepestDischarge", "Ah"),
    ("/History/LastDischarge", "Ah"),
    ("/History/AverageDischarge", "Ah"),
    ("/History/TotalAhDrawn", "Ah"),
    ("/History/TimeSinceLastFullCharge", "s"),
)


@lru_cache(maxsize=64)  # per prefix, one length per battery
def cell_paths(prefix: str, count: int) -> tuple[str, ...]:
    """``/Voltages/Cell1`` ... ``/Voltages/Cell<count>``: made once, not every publish."""
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


@lru_cache(maxsize=4096)  # ~150 paths a service, asked for on every GetText/GetItems
def unit(path: str) -> str:
    for prefix, u in _UNITS:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return u
    return ""


def text(path: str, value: Value) -> str:
    """What GetText shows: '---' for unknown, the ProductId in hex, numbers with their unit."""
    if type(value) is float:  # most values; first, as this runs for every change
        return f"{value:g}{unit(path)}"
    if value is None:
        return "---"
    if path == "/ProductId" and isinstance(value, int):
        return f"0x{value:X}"
    if isinstance(value, float):
        return f"{value:g}{unit(path)}"
    return f"{value}{unit(path)}"


def description(path: str) -> str:
    u = unit(path)
    return f"{path} ({u})" if u else path
