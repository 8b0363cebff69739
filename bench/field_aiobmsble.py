"""Drive aiobmsble's own JK decoder on captured frames, without a radio (bench only).

aiobmsble is the decoder library behind Home Assistant's BMS_BLE integration, i.e. the field's
Python JK reader. Nothing here re-implements it: each call goes to its code, in the order its
``async_update`` uses for a JK BMS: the notification handler per BLE notification (reassembly
and checksum), then ``_conv_data``, ``_temp_sensors``, ``_cell_voltages`` and
``_add_missing_values`` (derived values and the problem check).

aiobmsble is not a batmux dependency (it needs Python >= 3.12); the bench uses it when it can
be imported, e.g. ``uv run --python 3.12 --with aiobmsble==0.31.0 python bench/bench_decode.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiobmsble.bms.jikong_bms import BMS  # type: ignore[import-not-found]
from bleak.backends.device import BLEDevice

VERSION = __import__("aiobmsble").__version__

# Firmware major version and frame offset aiobmsble derives from the device info per layout.
_LAYOUT = {"jk02_24s": (10, -32), "jk02_32s": (11, 0)}


class FieldJkReader:
    """One aiobmsble JK BMS object per layout, kept like a connected device keeps it."""

    def __init__(self) -> None:
        device = BLEDevice("C8:47:80:00:00:01", "JK-bench", {"path": "/bench", "props": {}})
        self._bms: dict[str, Any] = {}
        for protocol, (sw_version, offset) in _LAYOUT.items():
            bms = BMS(device)
            bms._sw_version, bms._prot_offset = sw_version, offset
            self._bms[protocol] = bms

    def read(self, protocol: str, notifications: Sequence[bytes]) -> dict[str, Any]:
        bms = self._bms[protocol]
        for chunk in notifications:
            bms._notification_handler(None, bytearray(chunk))
        msg = bms._msg
        data = BMS._conv_data(msg, bms._prot_offset, bms._sw_version)
        data["temp_values"] = BMS._temp_sensors(msg, bms._temp_pos(), data.get("temp_sensors", 0))
        code = data.get("problem_code", 0)
        data["problem_code"] = code >> 16 if bms._prot_offset else code & 0xFFFF
        data["cell_voltages"] = BMS._cell_voltages(
            msg, cells=data.get("cell_count", 0), start=6, byteorder="little"
        )
        BMS._add_missing_values(data, bms._raw_values())
        return data


class FieldJbdReader:
    """aiobmsble's JBD BMS: what its ``_async_update`` does with a 0x03 and a 0x04 reply."""

    def __init__(self) -> None:
        from aiobmsble.bms.jbd_bms import BMS as JbdBMS  # type: ignore[import-not-found]

        self._cls = JbdBMS
        self._bms = JbdBMS(BLEDevice("A4:C1:37:00:00:01", "JBD-bench", {"path": "/b", "props": {}}))

    def read(self, basic: Sequence[bytes], cells: Sequence[bytes]) -> dict[str, Any]:
        cls, bms = self._cls, self._bms
        bms._valid_reply = 0x03
        for chunk in basic:
            bms._notification_handler(None, bytearray(chunk))
        msg = bms._msg
        result = cls._decode_data(cls._FIELDS, msg)
        ctrl = 27 + 2 * result.get("temp_sensors", 0)
        if int.from_bytes(msg[ctrl : ctrl + 1]) & 0x80:
            result |= cls._decode_data(cls._FIELDS_D10, msg)
        result["temp_values"] = cls._temp_values(
            msg,
            values=result.get("temp_sensors", 0),
            start=27,
            signed=False,
            offset=2731,
            divider=10,
            types=cls._TEMP_TYPES,
        )
        bms._valid_reply = 0x04
        for chunk in cells:
            bms._notification_handler(None, bytearray(chunk))
        result["cell_voltages"] = cls._cell_voltages(
            bms._msg, cells=result.get("cell_count", 0), start=4, byteorder="big"
        )
        bms._valid_reply = 0x00
        cls._add_missing_values(result, bms._raw_values())
        return result


class FieldDalyHReader:
    """aiobmsble's Daly BMS (D2 03 Modbus-style, H-series): its update for one 62-register
    reply (the MOS-temperature request is left out: our vectors have no such reply)."""

    def __init__(self) -> None:
        from aiobmsble.bms.daly_bms import BMS as DalyBMS  # type: ignore[import-not-found]

        self._cls = DalyBMS
        self._bms = DalyBMS(BLEDevice("C6:6C:00:00:00:01", "DL-bench", {"path": "/b", "props": {}}))

    def read(self, frame: bytes) -> dict[str, Any]:
        cls, bms = self._cls, self._bms
        bms._notification_handler(None, bytearray(frame))
        proto = cls._PROTOS[bms._proto]
        msg = bms._msg
        result: dict[str, Any] = {}
        result |= cls._decode_data(proto.fields, {62: msg}, start=cls._HEAD_LEN)
        result.setdefault("temp_values", []).extend(
            cls._temp_values(
                msg,
                values=result.get("temp_sensors", 0),
                start=proto.max_cells * 2 + cls._HEAD_LEN,
                offset=40,
            )
        )
        result["cell_voltages"] = cls._cell_voltages(
            msg, cells=result.get("cell_count", 0), start=cls._HEAD_LEN
        )
        cls._add_missing_values(result, bms._raw_values())
        return result


class FieldAntReader:
    """aiobmsble's ANT BMS: its status reply (0x11), as its ``_async_update`` reads it."""

    def __init__(self) -> None:
        from aiobmsble.bms.ant_bms import BMS as AntBMS  # type: ignore[import-not-found]

        self._cls = AntBMS
        self._bms = AntBMS(BLEDevice("AA:BB:CC:00:00:01", "ANT-bench", {"path": "/b", "props": {}}))

    def read(self, notifications: Sequence[bytes]) -> dict[str, Any]:
        cls, bms = self._cls, self._bms
        for chunk in notifications:
            bms._notification_handler(None, bytearray(chunk))
        msg = bms._msg
        result: dict[str, Any] = {"battery_charging": msg[7] == 0x2}
        result["cell_count"] = min(msg[cls._CELL_COUNT], cls._MAX_CELLS)
        result["cell_voltages"] = cls._cell_voltages(
            msg, cells=result["cell_count"], start=cls._CELL_POS, byteorder="little"
        )
        result["temp_sensors"] = min(msg[cls._TEMP_POS], cls._MAX_TEMPS)
        result["temp_values"] = cls._temp_values(
            msg,
            values=result["temp_sensors"] + 2,
            start=cls._CELL_POS + result["cell_count"] * 2,
            byteorder="little",
        )
        result.update(
            cls._decode_data(
                cls._FIELDS,
                msg,
                byteorder="little",
                start=(result["temp_sensors"] + result["cell_count"]) * 2,
            )
        )
        cls._add_missing_values(result, bms._raw_values())
        return result
