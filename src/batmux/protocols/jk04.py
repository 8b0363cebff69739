"""Old JK BMS / active balancer, "JK04" BLE protocol (JK-B2A16S/B2A24S hw 3.0, JK-B5A24S 8.0.3M).

Same transport as JK02 (``jk.py``): commands 0x97 (device info) and 0x96 (cell info), 300-byte
``55 AA EB 90 type counter ... sum8@299`` frames, sent in 20-byte notifications. The cell frame
holds IEEE float32 values instead of integers, and no current, SoC or temperatures (the device
balances cells; it has no shunt). Offsets from syssi/esphome-jk-bms ``decode_jk04_cell_info_``
and mpp-solar's ``jk04`` field list, e.g. the B2A16S capture (frames_jk04.h): bytes 6..9
``FF 91 56 40`` → float 3.35265 V (cell 1); 286..289 ``93 97 1C 00`` → uptime 1,873,811 s.
"""

from __future__ import annotations

import struct

from batmux.errors import ProtocolError
from batmux.model.sample import BatterySample
from batmux.protocols import jk
from batmux.protocols.base import require_length

CELL_SLOTS = 24
_CELLS = struct.Struct("<24f")  # 6 + 4i: cell voltage, V
_RESISTANCES = struct.Struct("<24f")  # 102 + 4i: cell wire resistance, Ω (slot 25 unused)
# 202 average cell V (f32), 206 delta cell V (f32), 214 enabled-cell mask (u32),
# 218/219 index of max/min cell (0-based), 220 balancing action (0 off, 1 charge, 2 discharge),
# 222 balancing current A (f32), 286 uptime s (u32).
_MASK, _BALANCING, _BALANCE_CURRENT, _UPTIME = 214, 220, 222, 286


def _f32(frame: bytes, offset: int) -> float:
    return struct.unpack_from("<f", frame, offset)[0]


def decode_cell_info(frame: bytes, timestamp: float = 0.0) -> BatterySample:
    require_length(frame, jk.FRAME_LEN, "JK04 cell info")
    if frame[4] != jk.TYPE_CELLS:
        raise ProtocolError(f"JK04 frame type 0x{frame[4]:02x} is not cell info")
    if not jk.looks_like_jk04(frame):
        raise jk.JkLayoutError(
            "jk04: cell voltages are not float32 values: looks like the JK02 protocol,"
            " use `type: jk`"
        )
    raw = _CELLS.unpack_from(frame, 6)
    mask = int.from_bytes(frame[_MASK : _MASK + 4], "little")
    last = max((i + 1 for i, v in enumerate(raw) if v), default=0)
    count = mask.bit_count() if 0 < mask.bit_count() <= CELL_SLOTS else last
    cells = tuple(round(v, 4) for v in raw[:count])
    balance_a = _f32(frame, _BALANCE_CURRENT)
    return BatterySample(
        timestamp=timestamp,
        voltage_v=round(sum(raw[:count]), 3),  # no pack measurement: the sum, as syssi does
        cell_voltages_v=cells,
        balancing=frame[_BALANCING] != 0,
        extra={
            "balance_current": round(balance_a, 3) if balance_a == balance_a else 0.0,
            "balancing_action": frame[_BALANCING],
            "uptime_s": int.from_bytes(frame[_UPTIME : _UPTIME + 4], "little"),
        },
    )


class Jk04Codec(jk.JkCodec):
    """``type: jk04``: the JK02 reassembly, float32 cell frames."""

    name = "jk04"

    def on_frame(self, frame: bytes) -> None:
        if frame[4] == jk.TYPE_DEVICE:  # JK04 settings have another layout: not read
            self.device_info = jk.decode_device_info(frame)

    def decode_cell_frame(self, frame: bytes, timestamp: float) -> BatterySample:
        return decode_cell_info(frame, timestamp)


# -- encoder (the device side, used by the simulator) ----------------------------------------


def build_cell_info(sample: BatterySample, counter: int = 0, uptime_s: int = 0) -> bytes:
    """A JK04 cell-info frame carrying ``sample``'s cells (the inverse of the decoder)."""
    buf = bytearray(jk.FRAME_LEN)
    buf[0:4] = jk.HEADER
    buf[4] = jk.TYPE_CELLS
    buf[5] = counter & 0xFF
    cells = sample.cell_voltages_v[:CELL_SLOTS]
    padded = [*cells, *([0.0] * (CELL_SLOTS - len(cells)))]
    _CELLS.pack_into(buf, 6, *padded)
    _RESISTANCES.pack_into(buf, 102, *[0.1 if v else 0.0 for v in padded])
    if cells:
        struct.pack_into("<ff", buf, 202, sum(cells) / len(cells), max(cells) - min(cells))
        buf[218] = cells.index(max(cells))
        buf[219] = cells.index(min(cells))
    buf[_MASK : _MASK + 4] = ((1 << len(cells)) - 1).to_bytes(4, "little")
    buf[_BALANCING] = 1 if sample.balancing else 0
    buf[221] = 1
    struct.pack_into("<f", buf, _BALANCE_CURRENT, float(sample.extra.get("balance_current", 0.0)))
    buf[_UPTIME : _UPTIME + 4] = (uptime_s & 0xFFFFFFFF).to_bytes(4, "little")
    buf[299] = jk.sum8(buf[:299])
    return bytes(buf)


def build_settings(cell_count: int, balancer: bool = True, counter: int = 0) -> bytes:
    """A JK04 settings frame (type 0x01; syssi ``decode_jk04_settings_``): 6 float 1.0,
    34 cell count, 38 power-off V, 74 ADC Vref, 98 start-balance V, 106 trigger ΔV,
    110 max balance current A (float32), 114 balancer switch. Values of the B2A16S capture."""
    buf = bytearray(jk.FRAME_LEN)
    buf[0:4] = jk.HEADER
    buf[4] = jk.TYPE_SETTINGS
    buf[5] = counter & 0xFF
    struct.pack_into("<f", buf, 6, 1.0)
    buf[34] = cell_count & 0xFF
    for offset, value in ((38, 3.0), (74, 3.03), (98, 4.25), (102, 3.4), (106, 0.005), (110, 2.0)):
        struct.pack_into("<f", buf, offset, value)
    buf[114] = 1 if balancer else 0
    buf[299] = jk.sum8(buf[:299])
    return bytes(buf)
