"""The field's JK decoders' arithmetic, re-done independently of batmux's codec.

JK02: the field table of patman15/aiobmsble ``aiobmsble/bms/jikong_bms.py`` (offsets written for
the 32S frame, 32 bytes less for firmware < 11; temperatures by its ``_temp_pos`` list filtered
by the sensor mask at 214 and the −2000 sentinel). Its 24S mask order T1, T2, MOSFET is kept as
aiobmsble has it, though a real frame contradicts it (docs/conventions.md).
JK04: the positional field list of jblance/mpp-solar ``mppsolar/protocols/jk04.py`` (24 float32
cells from byte 6, then 25 float32 resistances, average, delta, ...).
Nothing here imports batmux: it checks that batmux's simulator frames mean, to another decoder,
what batmux meant them to.
"""

from __future__ import annotations

import struct
from typing import Any


def _u(frame: bytes, pos: int, size: int, signed: bool = False) -> int:
    return int.from_bytes(frame[pos : pos + size], "little", signed=signed)


def aiobmsble_jk02(frame: bytes, sw_major: int) -> dict[str, Any]:
    """JK02 cell frame as aiobmsble reads it (values in its units: V, A, Ah, °C)."""
    assert sum(frame[:299]) & 0xFF == frame[299], "checksum"
    offs = -32 if sw_major < 11 else 0
    out: dict[str, Any] = {
        "voltage": _u(frame, 150 + offs, 4) / 1000,
        "current": _u(frame, 158 + offs, 4, signed=True) / 1000,
        "problem_code": _u(frame, 166 + offs, 4),
        "balancer": bool(frame[172 + offs]),
        "battery_level": frame[173 + offs],
        "cycle_charge": _u(frame, 174 + offs, 4) / 1000,
        "design_capacity": _u(frame, 178 + offs, 4) // 1000,
        "cycles": _u(frame, 182 + offs, 4),
        "battery_health": frame[190 + offs],
        "chrg_mosfet": bool(frame[198 + offs]),
        "dischrg_mosfet": bool(frame[199 + offs]),
        "temp_sensors": _u(frame, 214 + offs, 2, signed=True),
    }
    count = bin(_u(frame, 70 + (offs >> 1), 4)).count("1")
    out["cell_voltages"] = [_u(frame, 6 + 2 * i, 2) / 1000 for i in range(count)]
    if sw_major >= 11:
        positions = [(0, 144, "mos"), (1, 162, "t"), (2, 164, "t"), (3, 254, "mos")]
        if sw_major >= 14:
            positions += [(4, 256, "t"), (5, 258, "t")]
    else:
        positions = [(0, 130, "t"), (1, 132, "t"), (2, 134, "mos")]
    temps = []
    for idx, pos, kind in positions:
        value = _u(frame, pos, 2, signed=True)
        if out["temp_sensors"] & (1 << idx) and value != -2000:
            temps.append((value / 10, kind))
    out["temp_values"] = temps
    return out


def mppsolar_jk04(frame: bytes) -> dict[str, Any]:
    """JK04 cell frame by mpp-solar's positional list (header 4, type 1, counter 1, ...)."""
    assert sum(frame[:299]) & 0xFF == frame[299], "checksum"
    pos = 6
    cells = list(struct.unpack_from("<24f", frame, pos))
    pos += 24 * 4
    resistances = list(struct.unpack_from("<25f", frame, pos))
    pos += 25 * 4
    average, delta = struct.unpack_from("<ff", frame, pos)
    pos += 8 + 8  # average and delta, then two discarded words: 218
    highest, lowest = frame[pos] + 1, frame[pos + 1] + 1
    flags = frame[pos + 2 : pos + 4].hex()
    uptime = _u(frame, 286, 3)  # mpp-solar reads 3 bytes of uptime
    return {
        "cells": cells,
        "resistances": resistances,
        "average": average,
        "delta": delta,
        "highest_cell": highest,
        "lowest_cell": lowest,
        "flags": flags,
        "uptime": uptime,
    }
