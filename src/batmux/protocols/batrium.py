"""Batrium WatchMon "Native CAN 2.0": a DIY BMS that broadcasts its summary on CAN.

500 kbit/s, **29-bit extended ids** = base id + offset (base set in the WatchMon's CAN
profile; Battery-Emulator's wiki says 0x500), **little-endian**. Nothing is sent to the BMS.
Facts: shared/protocols/can-modbus.md §4.3 (Batrium wiki "native-canbus-protocols" v1.0 as
cited by Battery-Emulator 9e6d1863; field scales cross-checked with baycom/batrium2goodwe).

    +0x01  E4 0C | F0 0C | EA 0C | 03 | 0B     cells min 3.300, max 3.312, avg 3.306 V; #3, #11
    +0x04  14 02 | CE FF | E5 FF               53.2 V, -5.0 A (+ = charging), -270 W
    +0x05  14 1E | 10 27 | F4 01 | E8 03       SoC 77.00 %, SoH 100.00 %, 50.0 Ah of 100.0 Ah

Control flag bytes (+0x07: critical, charge, discharge, heat, cool, balancing): bit 0 the
logic's relay state, bit 1 in transition, bit 2 limited / precharge.

A frame with a standard (11-bit) id is never Batrium's, even when its number matches: it is
counted in ``standard_frames`` and dropped. Frames whose extended flag is unknown (the packed
form, ``(id, data)`` tuples) are taken by number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Field, read_table
from batmux.protocols.can_codec import CanCodec, FrameInput, encode_fields
from batmux.protocols.candump import parse_line

DEFAULT_BASE_ID = 0x500  # as devices/batrium_options.py
VERSION, CELLS, TEMPS, BYPASS, SHUNT, STATE, TARGETS, FLAGS = range(8)

# offset → (minimum length, real period in s: botaneta/JKbms_Emu_Pylon's schedule [L])
OFFSETS: dict[int, tuple[int, float]] = {
    VERSION: (8, 10.0),
    CELLS: (8, 0.1),
    TEMPS: (5, 1.0),
    BYPASS: (3, 1.0),
    SHUNT: (6, 0.1),
    STATE: (8, 1.0),
    TARGETS: (8, 0.1),
    FLAGS: (6, 0.1),
}

VERSION_FIELDS = (Field("hardware", 0, 2), Field("firmware", 2, 2), Field("serial", 4, 4))
CELL_FIELDS = (
    Field("cell_min", 0, 2, scale=0.001),
    Field("cell_max", 2, 2, scale=0.001),
    Field("cell_avg", 4, 2, scale=0.001),
    Field("cell_min_id", 6, 1),
    Field("cell_max_id", 7, 1),
)
TEMP_FIELDS = (  # °C + 40
    Field("temp_min", 0, 1),
    Field("temp_max", 1, 1),
    Field("temp_avg", 2, 1),
    Field("temp_min_id", 3, 1),
    Field("temp_max_id", 4, 1),
)
TEMP_OFFSET = 40
BYPASS_FIELDS = (
    Field("cells_in_bypass", 0, 1),
    Field("cells_in_initial_bypass", 1, 1),
    Field("cells_in_final_bypass", 2, 1),
)
SHUNT_FIELDS = (
    Field("voltage", 0, 2, signed=True, scale=0.1),
    Field("current", 2, 2, signed=True, scale=0.1),
    Field("shunt_power", 4, 2, signed=True, scale=10.0),  # W; only the bridge's ×10 [L]
)
STATE_FIELDS = (
    Field("soc", 0, 2, signed=True, scale=0.01),  # goes to about -10 % when over-drawn
    Field("soh", 2, 2, signed=True, scale=0.01),
    Field("remaining_ah", 4, 2, scale=0.1),
    Field("nominal_ah", 6, 2, scale=0.1),
)
TARGET_FIELDS = (
    Field("charge_voltage_limit", 0, 2, scale=0.1),
    Field("charge_current_limit", 2, 2, scale=0.1),
    Field("discharge_voltage_limit", 4, 2, scale=0.1),
    Field("discharge_current_limit", 6, 2, scale=0.1),
)
FLAG_NAMES = ("critical", "charge", "discharge", "heat", "cool", "balancing")
FLAG_ON, FLAG_TRANSITION, FLAG_LIMITED = 0x01, 0x02, 0x04

Extra = dict[str, float | int | str | bool]


def _frame_is_extended(chunk: Any) -> bool | None:
    """The extended flag of one fed frame when its form carries it, else None."""
    if isinstance(chunk, tuple):
        return bool(chunk[2]) if len(chunk) > 2 else None
    text = chunk if isinstance(chunk, str) else None
    if isinstance(chunk, bytes | bytearray) and chunk and chunk[0] >= 0x20:
        try:
            text = bytes(chunk).decode("ascii")
        except UnicodeDecodeError:
            return None
    if text is None:
        return None
    try:
        return parse_line(text).extended
    except CorruptFrame:
        return None  # the base codec rejects and counts it


class BatriumCodec(CanCodec):
    """Reads a WatchMon's native CAN broadcast at ``base_id`` (+0x00 … +0x07)."""

    name = "batrium"

    def __init__(self, base_id: int = DEFAULT_BASE_ID) -> None:
        super().__init__()
        if not 0 <= base_id <= 0x1FFFFFFF - 0x11:
            raise ProtocolError(f"batrium base id 0x{base_id:X} outside the 29-bit range")
        self.base_id = base_id
        self.standard_frames = 0
        self.min_length = {base_id + o: n for o, (n, _) in OFFSETS.items()}  # type: ignore[misc]

    def parse_cli_frame(self, text: str) -> bytes:
        """Keep the candump text so ``feed`` still sees whether the id was 29-bit."""
        return text.strip().encode("ascii", "replace")

    def feed(self, chunk: FrameInput | tuple[int, bytes, bool]) -> list[bytes]:  # type: ignore[override]
        extended = _frame_is_extended(chunk)
        if extended is False:
            self.standard_frames += 1
            self.unknown_frames += 1
            return []
        if isinstance(chunk, tuple) and len(chunk) > 2:
            chunk = (chunk[0], chunk[1])
        return super().feed(chunk)  # type: ignore[arg-type]

    def decode_with_key(self, frames: Sequence[str], key: str) -> BatterySample:
        """``batmux decode batrium --key 0x600 …``: frames of a WatchMon at another base id."""
        try:
            base = int(key, 0)
        except ValueError:
            raise ProtocolError(f"batrium key is the base id (e.g. 0x500), not {key!r}") from None
        codec = BatriumCodec(base)
        packed = [p for text in frames for p in codec.feed(codec.parse_cli_frame(text))]
        if not packed and codec.last_error is not None:
            raise codec.last_error
        return codec.decode(packed)

    def decode_latest(self, latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
        def part(offset: int) -> bytes | None:
            return latest.get(self.base_id + offset)

        shunt = part(SHUNT)
        if shunt is None:
            hint = f"; {self.standard_frames} 11-bit frames ignored" if self.standard_frames else ""
            raise ProtocolError(f"no shunt frame (29-bit 0x{self.base_id + SHUNT:08X}){hint}")
        s = read_table(SHUNT_FIELDS, shunt)
        extra: Extra = {"shunt_power": s["shunt_power"]}
        sample: dict[str, Any] = {"voltage_v": s["voltage"], "current_a": s["current"]}
        if (raw := part(STATE)) is not None:
            st = read_table(STATE_FIELDS, raw)
            extra["soc_raw"] = st["soc"]
            sample.update(
                soc_pct=min(max(st["soc"], 0.0), 100.0),
                soh_pct=st["soh"],
                charge_ah=st["remaining_ah"],
                capacity_ah=st["nominal_ah"] or None,
            )
        if (raw := part(CELLS)) is not None:
            extra.update(read_table(CELL_FIELDS, raw))
        if (raw := part(TEMPS)) is not None:
            t = {k: int(v) for k, v in read_table(TEMP_FIELDS, raw).items()}
            sample["temperatures_c"] = (t["temp_min"] - TEMP_OFFSET, t["temp_max"] - TEMP_OFFSET)
            extra["temperature_avg"] = t["temp_avg"] - TEMP_OFFSET
            extra["temperature_min_id"], extra["temperature_max_id"] = (
                t["temp_min_id"],
                t["temp_max_id"],
            )
        if (raw := part(BYPASS)) is not None:
            extra.update({k: int(v) for k, v in read_table(BYPASS_FIELDS, raw).items()})
        if (raw := part(TARGETS)) is not None:
            extra.update(read_table(TARGET_FIELDS, raw))
        if (raw := part(VERSION)) is not None:
            v = read_table(VERSION_FIELDS, raw)
            extra["hardware_version"], extra["firmware_version"] = (
                int(v["hardware"]),
                int(v["firmware"]),
            )
            extra["serial_number"] = str(int(v["serial"]))
        alarms: set[Alarm] = set()
        if (raw := part(FLAGS)) is not None:
            flags = dict(zip(FLAG_NAMES, raw, strict=False))
            sample["charge_enabled"] = bool(flags["charge"] & FLAG_ON)
            sample["discharge_enabled"] = bool(flags["discharge"] & FLAG_ON)
            sample["balancing"] = bool(flags["balancing"] & FLAG_ON)
            # The critical logic holds its relay on while the pack is OK; off = a critical trip.
            if not flags["critical"] & FLAG_ON:
                alarms.add(Alarm.BMS_FAULT)
            for name, value in flags.items():
                extra[f"{name}_flags"] = value
        return BatterySample(timestamp=timestamp, alarms=frozenset(alarms), extra=extra, **sample)


def encode(base_id: int, offset: int, values: Mapping[str, float]) -> tuple[int, bytes]:
    """One frame of the layout tables from values (the simulator's side)."""
    tables = {
        VERSION: (VERSION_FIELDS, 8),
        CELLS: (CELL_FIELDS, 8),
        TEMPS: (TEMP_FIELDS, 5),
        BYPASS: (BYPASS_FIELDS, 3),
        SHUNT: (SHUNT_FIELDS, 6),
        STATE: (STATE_FIELDS, 8),
        TARGETS: (TARGET_FIELDS, 8),
    }
    if offset == FLAGS:
        return base_id + offset, bytes(int(values.get(n, 0)) & 0xFF for n in FLAG_NAMES)
    table, length = tables[offset]
    return base_id + offset, encode_fields(table, values, length)
