"""Other projects' arithmetic for Daly, Daly D2, ANT, JBD, SOK (ABC-BMS), Supervolt (E&J),
SmartShunt (GATT and Instant Readout) and VE.Direct text frames, written out independently of
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


# -- patman15/aiobmsble aiobmsble/bms/jbd_bms.py (JBD general protocol v4) ---------------------
def aiobmsble_jbd(basic: bytes, cells: bytes = b"\xdd\x04\x00\x00") -> dict[str, Any]:
    """``_FIELDS`` offsets count from the 0xDD start byte; temperatures u16 from byte 27 as
    (raw − 2731) / 10, raw 0 skipped; cells: ``frame[3] // 2`` big-endian mV from byte 4,
    0 mV skipped. aiobmsble's current is positive = charging."""
    probes = basic[26]
    temps = [_u(basic, 27 + 2 * i, 2) for i in range(probes)]
    volts = [_u(cells, 4 + 2 * i, 2) for i in range(cells[3] // 2)]
    return {
        "voltage": _u(basic, 4, 2) / 100,
        "current": _u(basic, 6, 2, signed=True) / 100,
        "cycle_charge": _u(basic, 8, 2) / 100,
        "design_capacity": _u(basic, 10, 2) // 100,
        "cycles": _u(basic, 12, 2),
        "problem_code": _u(basic, 20, 2),
        "battery_level": basic[23],
        "chrg_mosfet": bool(basic[24] & 1),
        "dischrg_mosfet": bool(basic[24] & 2),
        "temp_values": [(t - 2731) / 10 for t in temps if t],
        "cell_voltages": [v / 1000 for v in volts if v],
    }


# -- patman15/aiobmsble aiobmsble/bms/abc_bms.py (ABC-BMS, sold as SOK) ------------------------
def aiobmsble_abc(frames: list[bytes]) -> dict[str, Any]:
    """Replies keyed by their type byte; ``_FIELDS`` little endian from the frame start. F4
    cell frames are joined as the peer does (first frame minus its last 2 bytes, then each
    further frame from byte 2); cells are u16 from byte 3 of that, every second value kept
    (the others straddle the cell index). Temperatures: s16 whole °C from F2 byte 5."""
    msg: dict[int, bytes] = {}
    for f in frames:
        if f[1] == 0xF4 and 0xF4 in msg:
            msg[0xF4] = msg[0xF4][:-2] + f[2:]
        else:
            msg[f[1]] = f
    st, fet, cell = msg[0xF0], msg[0xF2], msg[0xF4]
    raw = [_u(cell, 3 + 2 * i, 2, "little") for i in range((len(cell) - 4) // 2)]
    return {
        "voltage": _u(st, 2, 3, "little") / 1000,
        "current": _u(st, 5, 3, "little", True) / 1000,
        "design_capacity": _u(st, 8, 3, "little") // 1000,
        "cycle_charge": _u(st, 11, 3, "little") / 1000,
        "cycles": _u(st, 14, 2, "little"),
        "battery_level": st[16],
        "chrg_mosfet": bool(fet[2]),
        "dischrg_mosfet": bool(fet[3]),
        "temp_values": [_u(fet, 5 + 2 * i, 2, "little", True) for i in range(fet[4])],
        "balancer": msg[0xF3][10] if 0xF3 in msg else None,
        "cell_voltages": [v / 1000 for v in raw if v][::2],
    }


# -- patman15/aiobmsble aiobmsble/bms/ej_bms.py (E&J Technology = Supervolt v1) ----------------
def aiobmsble_ej(realtime: bytes, capacity: bytes | None = None) -> dict[str, Any]:
    """Frames are ``:`` hex ``~``; offsets count in the hex-decoded text between them. Current =
    (charge u16 − discharge u16) / 100 from byte 44; 16 cell slots from byte 12, 0 mV skipped;
    voltage = sum of the cells (aiobmsble's derived value); remaining Ah from the capacity
    reply's byte 7, or for a 0x45-byte single frame from byte 62."""
    rt = bytes.fromhex(realtime[1:-1].decode())
    cap = bytes(7) + rt[62:] if len(rt) == 0x45 else bytes.fromhex(capacity[1:-1].decode())  # type: ignore[index]
    cur = _u(rt, 44, 4)
    cells = [v / 1000 for i in range(16) if (v := _u(rt, 12 + 2 * i, 2))]
    out: dict[str, Any] = {
        "current": ((cur >> 16) - (cur & 0xFFFF)) / 100,
        "battery_level": rt[61],
        "cycle_charge": _u(cap, 7, 2) / 10,
        "temp_values": [rt[48] - 40],
        "cycles": _u(rt, 57, 2),
        "problem_code": _u(rt, 52, 2) & 0x0FFC,
        "dischrg_mosfet": bool(rt[52] & 0x10),
        "chrg_mosfet": bool(rt[52] & 0x20),
        "balancer": _u(rt, 55, 2),
        "cell_voltages": cells,
        "voltage": round(sum(cells), 3),
    }
    if len(rt) == 0x45:
        out["design_capacity"] = _u(rt, 66, 2) // 10
    return out


# -- keshavdv/victron-ble victron_ble/devices/{base,battery_monitor}.py -------------------------
def victron_ble_battery_monitor(payload: bytes, key: bytes) -> dict[str, Any]:
    """Container (after the company id): prefix u16, model u16, readout type u8, IV u16 (all
    little endian), one key-check byte (= key[0]), then AES-128-CTR data with the IV as the
    initial 128-bit little-endian counter. Record bits are read LSB first: remaining min 16,
    voltage s16 ×0.01, alarm 16, aux 16, aux mode 2, current s22 ×0.001, consumed 20 ×−0.1 Ah,
    SoC 10 ×0.1 %; all-ones = not available (None)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv, data = _u(payload, 5, 2, "little"), payload[7:]
    if data[0] != key[0]:
        raise ValueError("advertisement key mismatch")
    dec = Cipher(algorithms.AES(key), modes.CTR(iv.to_bytes(16, "little"))).decryptor()
    plain = dec.update(data[1:]) + dec.finalize()
    bits, at = int.from_bytes(plain, "little"), 0

    def take(n: int, signed: bool = False) -> int:
        nonlocal at
        v = bits >> at & ((1 << n) - 1)
        at += n
        return v - (1 << n) if signed and v >> (n - 1) else v

    mins, volt, alarm, aux, mode = take(16), take(16, True), take(16), take(16), take(2)
    cur, consumed, soc = take(22, True), take(20), take(10)
    return {
        "model_id": _u(payload, 2, 2, "little"),
        "readout_type": payload[4],
        "remaining_mins": None if mins == 0xFFFF else mins,
        "voltage": None if volt == 0x7FFF else volt / 100,
        "alarm": alarm,
        "aux": aux,
        "aux_mode": mode,
        "current": None if cur == 0x3FFFFF else cur / 1000,  # the peer's own sentinel check
        "consumed_ah": None if consumed == 0xFFFFF else -consumed / 10,
        "soc": None if soc == 0x3FF else soc / 10,
    }


# -- fl4p/batmon-ha bmslib/models/victron.py (SmartShunt GATT characteristics) -----------------
def batmon_victron_gatt(reads: dict[str, bytes]) -> dict[str, float]:
    """One little-endian value per characteristic (keyed by UUID prefix ``6597xxxx``); batmon
    negates current and power (its convention: positive = discharging); ``na_bytes`` → NaN."""
    nan = float("nan")
    na = {"6597eeff": b"\xff\xff\xff\x7f", "65970fff": b"\xff\xff"}

    def val(uuid: str, scale: float, signed: bool = True) -> float:
        raw = reads[uuid]
        return nan if raw == na.get(uuid) else int.from_bytes(raw, "little", signed=signed) * scale

    return {
        "charge": val("6597eeff", 0.1),  # consumed Ah
        "power": -val("6597ed8e", 1),
        "voltage": val("6597ed8d", 0.01),
        "current": -val("6597ed8c", 0.001),
        "soc": val("65970fff", 0.01, signed=False),
    }


# -- jblance/mpp-solar mppsolar/protocols/ved.py + the VE.Direct text protocol document -------
VED_SCALE = {"V": 1000, "I": 1000, "CE": 1000, "SOC": 10, "P": 1, "T": 1, "TTG": 1, "VPV": 1000}


def vedirect_text_blocks(stream: bytes) -> list[dict[str, str]]:
    """Split a text stream into blocks ending at ``Checksum<TAB><byte>``; a block is valid
    when all its bytes (from its leading CR LF to the checksum byte) sum to 0 mod 256 (the
    protocol document's rule); invalid blocks are dropped. Bytes before the first CR LF (the
    tail of a block already under way when reading began) are skipped."""
    blocks, start = [], stream.find(b"\r\n")
    while start >= 0 and (at := stream.find(b"Checksum\t", start)) >= 0:
        end = at + len(b"Checksum\t") + 1
        raw = stream[start:end]
        if sum(raw) % 256 == 0:
            lines = raw[:-1].split(b"\r\n")
            blocks.append(dict(ln.decode().split("\t", 1) for ln in lines if b"\t" in ln))
        start = end
    return blocks


def mpp_solar_ved(fields: dict[str, str]) -> dict[str, float | str]:
    """mpp-solar's ``float:r/1000`` etc.: V, I, CE in milli-units, SOC in ‰; I is positive
    when the battery is charged (protocol document)."""
    return {k: int(v) / VED_SCALE[k] if k in VED_SCALE else v for k, v in fields.items()}
