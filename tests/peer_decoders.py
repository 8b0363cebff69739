"""Other projects' arithmetic for Daly, Daly D2 and ANT frames, written out independently of
batmux's codecs so a test can check what the simulators send against what the field decodes.

Each function follows one peer's field table (offsets, scales, signs) and returns that peer's
raw view: no sign normalisation, no absent-probe handling beyond what the peer itself does.
"""

from __future__ import annotations

from typing import Any


def _u(data: bytes, at: int, size: int, order: str = "big", signed: bool = False) -> int:
    return int.from_bytes(data[at : at + size], order, signed=signed)  # type: ignore[arg-type]


# -- patman15/aiobmsble aiobmsble/bms/daly_bms.py (D2 protocol) --------------------------------
def aiobmsble_daly(status: bytes, mos_block: bytes | None = None) -> dict[str, Any]:
    """``_FIELDS`` offsets are relative to the 3-byte header; temperatures from data byte 64
    with offset 40, raw 0 skipped; the MOS temperature at byte 11 of the 0x3E×9 reply."""
    h = 3
    cells = min(_u(status, h + 98, 2), 32)
    probes = min(_u(status, h + 100, 2), 8)
    temps = [_u(status, h + 64 + 2 * i, 2) for i in range(probes)]
    out: dict[str, Any] = {
        "voltage": _u(status, h + 80, 2) / 10,
        "current": (_u(status, h + 82, 2) - 30000) / 10,
        "battery_level": _u(status, h + 84, 2) / 10,
        "cycle_charge": _u(status, h + 96, 2) / 10,
        "cycles": _u(status, h + 102, 2),
        "delta_voltage": _u(status, h + 112, 2) / 1000,
        "problem_code": _u(status, h + 116, 8),
        "balancer": _u(status, h + 104, 2),
        "chrg_mosfet": bool(_u(status, h + 106, 2)),
        "dischrg_mosfet": bool(_u(status, h + 108, 2)),
        "cell_voltages": [_u(status, h + 2 * i, 2) / 1000 for i in range(cells)],
        "temp_values": [t - 40 for t in temps if t],
    }
    if mos_block is not None:
        out["mos_temperature"] = _u(mos_block, h + 8, 2) - 40
    return out


def syssi_daly_error_indexes(status: bytes) -> set[int]:
    """syssi/esphome-daly-bms ``daly_get_64bit(119)``: bit i of the big-endian 64-bit value
    from frame byte 119 names ``ERRORS[i]`` (index 0 = register 0x3D low byte, bit 0)."""
    mask = _u(status, 119, 8)
    return {i for i in range(64) if mask >> i & 1}


# -- patman15/aiobmsble aiobmsble/bms/ant_bms.py, with fl4p/batmon-ha's MOSFET bytes ----------
def aiobmsble_ant(frame: bytes) -> dict[str, Any]:
    """aiobmsble's ``_FIELDS`` shifted by 2·(temperature probes + cells); current as sent
    (aiobmsble passes the raw sign through). The MOSFET flags follow batmon-ha's
    bmslib/models/ant.py (byte B+8 discharge, B+9 charge), not aiobmsble's."""
    probes, cells = min(frame[8], 6), min(frame[9], 32)
    s = 2 * (probes + cells)
    temps = [_u(frame, 34 + 2 * cells + 2 * i, 2, "little", True) for i in range(probes + 2)]
    return {
        "voltage": _u(frame, 38 + s, 2, "little") / 100,
        "current": _u(frame, 40 + s, 2, "little", True) / 10,
        "battery_level": _u(frame, 42 + s, 2, "little"),
        "battery_health": _u(frame, 44 + s, 2, "little"),
        "design_capacity": _u(frame, 50 + s, 4, "little") // 10**6,
        "cycle_charge": _u(frame, 54 + s, 4, "little") / 1e6,
        "power": float(_u(frame, 62 + s, 4, "little", True)),
        "balancer": bool(frame[48 + s] & 4),
        "cell_voltages": [_u(frame, 34 + 2 * i, 2, "little") / 1000 for i in range(cells)],
        "temp_values": temps[:probes],
        "mos_temperature": temps[probes],
        "batmon_discharge_switch": frame[46 + s] == 1,
        "batmon_charge_switch": frame[47 + s] == 1,
    }


# -- dreadnought/python-daly-bms dalybms/daly_bms.py (classic A5 protocol) ---------------------
def dreadnought_daly(frames: list[bytes]) -> dict[str, Any]:
    """``get_soc`` / ``get_mosfet_status`` / ``get_status`` / ``get_cell_voltages`` /
    ``get_temperatures`` over the 8 data bytes of each reply; current as the library gives it
    ((raw − 30000) / 10, its comment: negative = charging)."""
    out: dict[str, Any] = {"cell_voltages": {}, "temperatures": {}}
    for f in frames:
        cmd, d = f[2], f[4:12]
        if cmd == 0x90:
            out["total_voltage"] = _u(d, 0, 2) / 10
            out["current"] = (_u(d, 4, 2) - 30000) / 10
            out["soc_percent"] = _u(d, 6, 2) / 10
        elif cmd == 0x93:
            out["mode"] = ("stationary", "charging", "discharging")[d[0]]
            out["charging_mosfet"], out["discharging_mosfet"] = bool(d[1]), bool(d[2])
            out["capacity_ah"] = _u(d, 4, 4) / 1000
        elif cmd == 0x94:
            out["cells"], out["temperature_sensors"], out["cycles"] = d[0], d[1], _u(d, 5, 2)
        elif cmd == 0x95:
            for i in range(3):
                out["cell_voltages"][3 * (d[0] - 1) + i + 1] = _u(d, 1 + 2 * i, 2) / 1000
        elif cmd == 0x96:
            for i in range(7):
                out["temperatures"][7 * (d[0] - 1) + i + 1] = d[1 + i] - 40
    return out
