"""Pylontech low-voltage CAN, the sending side: frame encoders and battery state → frames.

One 1 s cycle of a Pylontech stack for the inverter emulation (``sinks/pylontech_can``) and the
simulated battery (``sim/can_battery``), plus the inverter's 0x305 keep-alive. Layouts and ids
are in ``pylontech_can``.

A CVL of 0 is never sent: Victron reads it as over-voltage (builders refuse it; the sink's
``LimitKeeper`` keeps the last good CVL). Stale data (limit reason ``stale``/``no_limits``)
raises the BMS/system error alarm; before the first data (``not_ready``) only 0 A and the
cleared charge/discharge enables are sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from batmux.model.alarms import Alarm
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from batmux.protocols.can_codec import encode_fields
from batmux.protocols.candump import Frame
from batmux.protocols.inverter_limits import FAULT_REASONS, UNSAFE_REASONS
from batmux.protocols.pylontech_can import (
    CELLS,
    FLAG_BITS,
    GENERAL_ITEM,
    ID_ALARMS,
    ID_CELL_NAMES,
    ID_CELLS,
    ID_FLAGS,
    ID_INFO,
    ID_KEEPALIVE,
    ID_LIMITS,
    ID_MANUFACTURER,
    ID_MEASURE,
    ID_MODULES,
    ID_NAME1,
    ID_NAME2,
    ID_REQUEST,
    ID_SOC,
    INFO,
    ITEM_ACTIVE,
    ITEM_OK,
    ITEMS,
    LIMITS,
    MEASURE,
    MODULES,
    REQ_CHARGE,
    REQ_DISCHARGE,
    REQ_FORCE1,
    REQ_FORCE2,
    REQ_FULL,
    SOC,
    WARNING_SHIFT,
)

Variant = Literal["v1.2", "v1.3"]
Fallback = Literal["none", "soc_window", "standby"]


@dataclass(frozen=True, slots=True)
class PylontechCanOptions:
    variant: Variant = "v1.2"
    victron_extras: bool = False
    fallback: Fallback = "none"
    manufacturer: str = "PYLON"
    bms_name: str = "batmux"
    module_count: int | None = None  # None: group members online, else 1
    chemistry: str = "LI"
    hardware_version: tuple[int, int] = (1, 3)
    software_version: int = 0


# -- encoders ---------------------------------------------------------------------------------


def flag_bits(alarms: frozenset[Alarm], warnings: frozenset[Alarm]) -> int:
    bits = 0
    for bit, names in FLAG_BITS.items():
        if alarms.intersection(names):
            bits |= 1 << bit
        if warnings.intersection(names):
            bits |= 1 << (bit + WARNING_SHIFT)
    return bits


def encode_flags(alarms: frozenset[Alarm], warnings: frozenset[Alarm], modules: int) -> bytes:
    return flag_bits(alarms, warnings).to_bytes(4, "little") + bytes([min(modules, 255)]) + b"PN"


def _items(active: frozenset[Alarm]) -> int:
    word = 0
    for item, names in ITEMS.items():
        word |= (ITEM_ACTIVE if active.intersection(names) else ITEM_OK) << (2 * item)
    general = ITEM_ACTIVE if active else ITEM_OK
    return word | general << (2 * GENERAL_ITEM)


def encode_alarms(alarms: frozenset[Alarm], warnings: frozenset[Alarm]) -> bytes:
    return _items(alarms).to_bytes(4, "little") + _items(warnings).to_bytes(4, "little")


def encode_text(text: str, length: int = 8) -> bytes:
    return text.encode("ascii", "replace")[:length].ljust(length, b" ")


def encode_request(
    charge: bool, discharge: bool, force1: bool = False, force2: bool = False, full: bool = False
) -> bytes:
    flags = (
        (REQ_CHARGE if charge else 0)
        | (REQ_DISCHARGE if discharge else 0)
        | (REQ_FORCE1 if force1 else 0)
        | (REQ_FORCE2 if force2 else 0)
        | (REQ_FULL if full else 0)
    )
    return bytes([flags, 0])


def encode_info(
    chemistry: str, hardware: tuple[int, int], capacity_ah: float | None, software: int
) -> bytes:
    head = chemistry.encode("ascii", "replace")[:2].ljust(2, b" ") + bytes(hardware)
    return head + encode_fields(INFO, {"capacity": capacity_ah, "software": software})[4:]


# -- state → frames ---------------------------------------------------------------------------


def _modules(state: BatteryState | None, opts: PylontechCanOptions) -> int:
    if opts.module_count is not None:
        return opts.module_count
    if state is not None and state.members is not None:
        return state.members.online
    return 1


def build_frames(
    state: BatteryState | None, limits: ChargeLimits, opts: PylontechCanOptions | None = None
) -> list[Frame]:
    """Every frame of one 1 s cycle, in sending order."""
    opts = opts or PylontechCanOptions()
    if not limits.charge_voltage_v > 0:
        raise ValueError("refusing to send CVL 0: Victron reads it as over-voltage")
    sample = state.sample if state is not None else None
    stale = limits.reason in UNSAFE_REASONS
    cvl, dvl = limits.charge_voltage_v, limits.discharge_voltage_v
    soc = sample.soc_pct if sample and sample.soc_pct is not None else 0.0
    if stale and opts.fallback == "soc_window":
        soc = 100.0  # both limits are 0: never invite a forced charge at 0 %
        if sample and sample.voltage_v:
            cvl = dvl = sample.voltage_v
    alarms = sample.alarms if sample else frozenset()
    warnings = sample.warnings if sample else frozenset()
    if limits.reason in FAULT_REASONS or (stale and opts.fallback == "standby"):
        # stale data: the system/internal error flag (0x359 byte 1 bit 3; 0x35A item 11),
        # as Battery-Emulator raises its FAULT flag; cleared with the next fresh state
        alarms = alarms | {Alarm.BMS_FAULT}
    temps = sample.temperatures_c if sample else ()
    frames: list[Frame] = [
        (
            ID_LIMITS,
            encode_fields(
                LIMITS,
                {
                    "charge_voltage_limit": cvl,
                    "charge_current_limit": limits.charge_current_a,
                    "discharge_current_limit": limits.discharge_current_a,
                    "discharge_voltage_limit": dvl,
                },
            ),
        ),
        (
            ID_SOC,
            encode_fields(
                SOC,
                {
                    "soc": round(soc),
                    "soh": round(sample.soh_pct) if sample and sample.soh_pct is not None else 100,
                    "soc_hr": soc,
                },
                6 if opts.variant == "v1.3" else 4,
            ),
        ),
        (
            ID_MEASURE,
            encode_fields(
                MEASURE,
                {
                    "voltage": sample.voltage_v if sample else None,
                    "current": sample.current_a if sample else None,
                    "temperature": round(sum(temps) / len(temps), 1) if temps else None,
                },
                6,
            ),
        ),
    ]
    if opts.variant == "v1.2":
        frames.append((ID_FLAGS, encode_flags(alarms, warnings, _modules(state, opts))))
        frames.append(
            (ID_REQUEST, encode_request(not limits.blocks_charge, not limits.blocks_discharge))
        )
    else:
        frames.append((ID_ALARMS, encode_alarms(alarms, warnings)))
    frames.append((ID_MANUFACTURER, encode_text(opts.manufacturer)))
    if opts.variant == "v1.3":
        capacity = sample.capacity_ah if sample else None
        frames.append(
            (
                ID_INFO,
                encode_info(opts.chemistry, opts.hardware_version, capacity, opts.software_version),
            )
        )
    if opts.victron_extras:
        frames += victron_frames(state, limits, opts)
    return frames


def victron_frames(
    state: BatteryState | None, limits: ChargeLimits, opts: PylontechCanOptions
) -> list[Frame]:
    name = opts.bms_name.encode("ascii", "replace")[:16].ljust(16, b"\x00")
    frames: list[Frame] = [(ID_NAME1, name[:8]), (ID_NAME2, name[8:])]
    members = state.members if state is not None else None
    if members is not None:
        counts = (
            members.online,
            members.blocking_charge,
            members.blocking_discharge,
            members.offline,
        )
    elif limits.reason in UNSAFE_REASONS:
        counts = (0, 0, 0, 1)  # no trustworthy data: the one module is offline
    else:
        counts = (1, int(limits.blocks_charge), int(limits.blocks_discharge), 0)
    frames.append(
        (
            ID_MODULES,
            encode_fields(
                MODULES,
                dict(
                    zip(
                        (
                            "modules_ok",
                            "modules_blocking_charge",
                            "modules_blocking_discharge",
                            "modules_offline",
                        ),
                        counts,
                        strict=True,
                    )
                ),
            ),
        )
    )
    sample = state.sample if state is not None else None
    if sample and sample.cell_voltages_v:
        temps = sample.temperatures_c
        frames.append(
            (
                ID_CELLS,
                encode_fields(
                    CELLS,
                    {
                        "cell_min_mv": sample.min_cell_v * 1000,  # type: ignore[operator]
                        "cell_max_mv": sample.max_cell_v * 1000,  # type: ignore[operator]
                        "cell_min_temp_k": min(temps) + 273.15 if temps else None,
                        "cell_max_temp_k": max(temps) + 273.15 if temps else None,
                    },
                ),
            )
        )
        names = [f"C{sample.min_cell_id}", f"C{sample.max_cell_id}"]
        if temps:
            names += [f"T{temps.index(min(temps)) + 1}", f"T{temps.index(max(temps)) + 1}"]
        frames += [
            (i, n.encode("ascii").ljust(8, b"\x00"))
            for i, n in zip(ID_CELL_NAMES, names, strict=False)
        ]
    return frames


def keepalive_frame(counter: int = 0) -> Frame:
    """The inverter's 0x305 (8 zero bytes in the Pylon spec; some count)."""
    return (ID_KEEPALIVE, counter.to_bytes(8, "little") if counter else bytes(8))
