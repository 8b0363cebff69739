"""BLE advertising data (Core Specification Vol 3, Part C, §11): length-type-value structures.

An ESPHome Bluetooth proxy forwards advertisements raw (advertising PDU and scan response
concatenated); this codec turns them into the fields the scan and the drivers care about, and
builds them for the simulated proxy. Pure: bytes in, values out.

Example: ``02 01 06`` flags, ``0c 09 4a 4b 5f 42 32 41 38 53 32 30 50`` complete local name
"JK_B2A8S20P", ``03 03 e0 ff`` 16-bit service UUID FFE0, ``05 ff 4c 06 01 02`` manufacturer
0x064C with data ``01 02``.
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass, field

FLAGS, UUID16_SOME, UUID16_ALL, UUID128_SOME, UUID128_ALL = 0x01, 0x02, 0x03, 0x06, 0x07
NAME_SHORT, NAME_COMPLETE, SERVICE_DATA16, MANUFACTURER = 0x08, 0x09, 0x16, 0xFF
SIG_BASE = "-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class Advertisement:
    """The fields of one advertisement (scan response merged in)."""

    name: str | None = None
    service_uuids: tuple[str, ...] = ()  # lowercase 128-bit strings
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)


def _uuid16(value: int) -> str:
    return f"0000{value:04x}{SIG_BASE}"


def parse(data: bytes) -> Advertisement:
    """Every structure of ``data``; a truncated last structure is ignored, never raised."""
    name: str | None = None
    uuids: list[str] = []
    manufacturer: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0 or i + 1 + length > len(data):
            break
        kind, value = data[i + 1], bytes(data[i + 2 : i + 1 + length])
        i += 1 + length
        if kind in (NAME_SHORT, NAME_COMPLETE):
            if name is None or kind == NAME_COMPLETE:
                name = value.decode("utf-8", "replace")
        elif kind in (UUID16_SOME, UUID16_ALL):
            uuids += [
                _uuid16(int.from_bytes(value[j : j + 2], "little"))
                for j in range(0, len(value) - 1, 2)
            ]
        elif kind in (UUID128_SOME, UUID128_ALL):
            uuids += [
                str(_uuid.UUID(bytes=value[j : j + 16][::-1]))
                for j in range(0, len(value) - 15, 16)
            ]
        elif kind == MANUFACTURER and len(value) >= 2:
            manufacturer[int.from_bytes(value[:2], "little")] = value[2:]
    return Advertisement(name, tuple(dict.fromkeys(uuids)), manufacturer)


def build(
    name: str | None = None,
    service_uuids: tuple[str, ...] = (),
    manufacturer_data: dict[int, bytes] | None = None,
) -> bytes:
    """The structures for these fields (flags first, as a connectable LE-only device sends)."""

    def ad(kind: int, value: bytes) -> bytes:
        return bytes((len(value) + 1, kind)) + value

    out = ad(FLAGS, b"\x06")
    for text in service_uuids:
        value = _uuid.UUID(text)
        if str(value).endswith(SIG_BASE) and value.int >> 112 == 0:
            out += ad(UUID16_ALL, ((value.int >> 96) & 0xFFFF).to_bytes(2, "little"))
        else:
            out += ad(UUID128_ALL, value.bytes[::-1])
    for company, payload in (manufacturer_data or {}).items():
        out += ad(MANUFACTURER, company.to_bytes(2, "little") + payload)
    if name:
        out += ad(NAME_COMPLETE, name.encode())
    return out
