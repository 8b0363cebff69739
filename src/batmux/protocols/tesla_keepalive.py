"""Tesla Model 3/Y 0x221 VCFRONT_LVPowerState: the keep-alive a pack needs to close its contactors.

Sent by the car (or by whatever replaces it) every 50 ms, alternating mux 0 and mux 1:

    byte 0 bits 0-4   mux index (VCFRONT_LVPowerStateIndex)
    byte 6 bits 4-7   4-bit counter (bit 52)
    byte 7            checksum = (sum of bytes 0-6 + 0x21 + 0x02) & 0xFF  (the id's two bytes)

Vector tesla_m3y_0x221_checksum (Battery-Emulator's frames, captured from cars) holds on all ten
frames. This module only checks and builds frames; sending them (the close/open sequences) is
the contactor control's job, and the simulated pack uses ``is_valid`` to decide whether the
keep-alive is present.
"""

from __future__ import annotations

ID_LV_POWER_STATE = 0x221
COUNTER_MASK = 0x0F


def checksum(data: bytes, can_id: int = ID_LV_POWER_STATE, at: int = 7) -> int:
    """Sum of every byte but ``data[at]`` (0x221: bytes 0-6) plus the id's low and high byte,
    low 8 bits. The vehicle-presence frames (``protocols.tesla_presence``) use the same rule."""
    return (sum(data) - data[at] + (can_id & 0xFF) + (can_id >> 8)) & 0xFF


def is_valid(data: bytes, can_id: int = ID_LV_POWER_STATE) -> bool:
    return len(data) == 8 and data[7] == checksum(data, can_id)


def mux(data: bytes) -> int:
    return data[0] & 0x1F


def counter(data: bytes) -> int:
    return data[6] >> 4


def with_counter(data: bytes, value: int, can_id: int = ID_LV_POWER_STATE) -> bytes:
    """The frame with its counter set to ``value`` (mod 16) and the checksum recomputed."""
    body = bytearray(data[:8].ljust(8, b"\x00"))
    body[6] = (body[6] & 0x0F) | ((value & COUNTER_MASK) << 4)
    body[7] = checksum(bytes(body), can_id)
    return bytes(body)
