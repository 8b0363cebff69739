"""The frames a LEAF pack outside its car needs from the "car" (the VCM) before it closes its
main relay: 0x1D4 and 0x1F2 every 10 ms, 0x50B and 0x50C every 100 ms (can-modbus.md §4.2,
Battery-Emulator's NISSAN-LEAF-BATTERY.cpp). Pure builders; the sender is
``devices/leaf_control.py``.

    0x1D4  6E 6E 00 04 XX 46 E0 CRC    XX = 07/47/87/C7: a 2-bit counter in the top of byte 4;
                                       CRC-8 poly 0x85 over bytes 0-6
    0x1F2  10 64 00 B0|B4 00 1E CC CS  CC = 0..3; byte 3 B0 for 5 frames, then B4 for 5 (a
                                       20-frame pattern); CS = 0x80 | (Σ nibbles 0-6 + 10) & 0xF
    0x50B  00 00 06 C0 00 00 00        wake-up (7 bytes)
    0x50C  00 00 00 n Q C              n = 0..3; Q = the ALU challenge (5D/B2), C = CRC-8 of 0-4

Both checks were confirmed against Battery-Emulator's constant tables (1D4: 12/D5/19/DE;
1F2: 8F/80/81/82, 83/84/85/86; 50C: C8/31/63/9A): see tests/protocols/test_leaf_keepalive.py.
"""

from __future__ import annotations

from batmux.protocols.nissan_leaf_frames import crc8

VCM_1D4, VCM_1F2, VCM_50B, VCM_50C = 0x1D4, 0x1F2, 0x50B, 0x50C
CHALLENGES = (0x5D, 0xB2, 0x5D, 0xB2)  # Q of 0x50C for n = 0..3
WAKE_UP = bytes.fromhex("000006C0000000")


def frame_1d4(counter: int) -> bytes:
    body = bytes([0x6E, 0x6E, 0x00, 0x04, (counter % 4) << 6 | 0x07, 0x46, 0xE0])
    return body + bytes([crc8(body)])


def checksum_1f2(body: bytes) -> int:
    nibbles = sum((b >> 4) + (b & 0xF) for b in body[:7])
    return 0x80 | (nibbles + 10) & 0xF


def frame_1f2(index: int) -> bytes:
    """Frame ``index`` (0..19 repeating) of the 0x1F2 pattern."""
    i = index % 20
    body = bytes([0x10, 0x64, 0x00, 0xB4 if i // 5 % 2 else 0xB0, 0x00, 0x1E, i % 4])
    return body + bytes([checksum_1f2(body)])


def frame_50c(n: int) -> bytes:
    body = bytes([0x00, 0x00, 0x00, n % 4, CHALLENGES[n % 4]])
    return body + bytes([crc8(body)])


def valid(can_id: int, data: bytes) -> bool:
    """What a pack (the simulator) accepts as the car's frame of ``can_id``."""
    if can_id == VCM_1D4:
        return len(data) == 8 and crc8(data[:7]) == data[7]
    if can_id == VCM_1F2:
        return len(data) == 8 and data[7] == checksum_1f2(data)
    if can_id == VCM_50B:
        return len(data) == 7 and data[2:4] == b"\x06\xc0"
    if can_id == VCM_50C:
        return len(data) == 6 and crc8(data[:5]) == data[5] and data[4] in CHALLENGES
    return False


def frames_at(tick: int) -> list[tuple[int, bytes]]:
    """What is due at 10 ms tick ``tick``: 0x1D4 + 0x1F2 always, 0x50B + 0x50C every 10th."""
    out = [(VCM_1D4, frame_1d4(tick)), (VCM_1F2, frame_1f2(tick))]
    if tick % 10 == 0:
        out += [(VCM_50B, WAKE_UP), (VCM_50C, frame_50c(tick // 10))]
    return out
