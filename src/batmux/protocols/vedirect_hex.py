"""Victron VE.Direct HEX protocol: ``:`` frames, register Get/Set.

``:`` + command nibble + payload bytes in upper-case hex + checksum byte + ``\\n`` where
command + Σpayload + checksum ≡ 0x55. Get ``7`` and Set ``8`` carry register id (u16 LE), a
flags byte (0 ok, 1 unknown id, 2 not supported, 4 parameter error) and the value (LE).
The text codec (``vedirect_text``) collects these lines from between the text blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from batmux.errors import CorruptFrame, TruncatedFrame

# HEX commands (host → device) and responses (device → host).
CMD_PING, CMD_VERSION, CMD_PRODUCT_ID, CMD_GET, CMD_SET, CMD_ASYNC = 0x1, 0x3, 0x4, 0x7, 0x8, 0xA
RSP_DONE, RSP_UNKNOWN, RSP_ERROR, RSP_PING = 0x1, 0x3, 0x4, 0x5
FLAG_OK, FLAG_UNKNOWN_ID, FLAG_NOT_SUPPORTED, FLAG_PARAMETER_ERROR = 0, 1, 2, 4

# Registers used here (ids from velib ve_regs.h and the BlueSolar HEX document).
REG_DEVICE_MODE = 0x0200  # un8: 1 = charger on, 4 = charger off
REG_BATTERY_CAPACITY = 0x1000  # un16 Ah (BMV / SmartShunt)
REG_SOC = 0x0FFF  # un16 0.01 %
DEVICE_MODE_ON, DEVICE_MODE_OFF = 1, 4


@dataclass(frozen=True, slots=True)
class HexFrame:
    """One HEX frame; for Get/Set, ``register``, ``flags`` and ``value`` are filled in."""

    command: int
    payload: bytes
    register: int | None = None
    flags: int | None = None
    value: bytes = b""

    def value_int(self, signed: bool = False) -> int:
        if not self.value:
            raise TruncatedFrame("HEX response without a value")
        return int.from_bytes(self.value, "little", signed=signed)

    @property
    def ok(self) -> bool:
        return self.flags in (None, FLAG_OK)


def hex_checksum(command: int, payload: bytes) -> int:
    return (0x55 - command - sum(payload)) & 0xFF


def encode_hex(command: int, payload: bytes = b"") -> bytes:
    if not 0 <= command <= 0xF:
        raise ValueError(f"HEX command is a nibble, got {command}")
    body = f":{command:X}{payload.hex().upper()}{hex_checksum(command, payload):02X}"
    return body.encode("ascii") + b"\n"


def _register_payload(register: int, flags: int, value: bytes = b"") -> bytes:
    if not 0 <= register <= 0xFFFF:
        raise ValueError(f"register id is u16, got {register:#x}")
    return register.to_bytes(2, "little") + bytes([flags]) + value


def build_get(register: int) -> bytes:
    """``:7<id LE><flags 00><cs>\\n`` — read one register."""
    return encode_hex(CMD_GET, _register_payload(register, 0))


def build_set(register: int, value: int | bytes, size: int = 1, signed: bool = False) -> bytes:
    """``:8<id LE><flags 00><value LE><cs>\\n`` — write one register (``size`` bytes)."""
    raw = value if isinstance(value, bytes) else value.to_bytes(size, "little", signed=signed)
    return encode_hex(CMD_SET, _register_payload(register, 0, raw))


def build_register_response(command: int, register: int, value: bytes, flags: int = 0) -> bytes:
    """A device's Get/Set answer (used by the simulator)."""
    return encode_hex(command, _register_payload(register, flags, value))


def parse_hex_frame(line: bytes) -> HexFrame:
    """Parse and verify one ``:…`` line (the trailing ``\\r``/``\\n`` is optional)."""
    text = line.strip(b"\r\n")
    if len(text) < 4 or text[:1] != b":":
        raise TruncatedFrame(f"HEX frame too short: {text[:20]!r}")
    try:
        command = int(text[1:2], 16)
        data = bytes.fromhex(text[2:].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise CorruptFrame(f"HEX frame not hex: {text[:20]!r}") from None
    if (command + sum(data)) & 0xFF != 0x55:
        raise CorruptFrame(f"HEX checksum: {text[:20]!r}")
    payload = data[:-1]
    if command in (CMD_GET, CMD_SET, CMD_ASYNC):
        if len(payload) < 3:
            raise TruncatedFrame(f"HEX register frame needs id+flags: {text[:20]!r}")
        register = int.from_bytes(payload[:2], "little")
        return HexFrame(command, payload, register, payload[2], payload[3:])
    return HexFrame(command, payload)


def parse_hex_response(line: bytes) -> HexFrame:
    """A device → host HEX frame (Get/Set/async answer, ping, error...)."""
    return parse_hex_frame(line)
