"""LEAF keep-alive frames against Battery-Emulator's constant tables (NISSAN-LEAF-BATTERY.cpp)
and the shared vector's 0x1D4 frames (Battery-Emulator's TX frames too: no real capture of a
VCM sending them was found)."""

from __future__ import annotations

import json

from batmux.protocols import nissan_leaf_keepalive as ka
from conftest import VECTORS


def test_1d4_matches_the_vector() -> None:
    vec = json.loads((VECTORS / "can" / "nissan_leaf_lbc_samples.json").read_text())
    sent = [bytes.fromhex(f["data"]) for f in vec["frames"] if f.get("id") == "0x1D4"]
    assert sent and [ka.frame_1d4(i) for i in range(len(sent))] == sent
    assert [ka.frame_1d4(i)[7] for i in range(4)] == [0x12, 0xD5, 0x19, 0xDE]


def test_1f2_matches_battery_emulators_table() -> None:
    # (byte 3, byte 6, byte 7) of frames 0..19, from Battery-Emulator's switch (mprun10r)
    table = [(0xB0, 0, 0x8F), (0xB0, 1, 0x80), (0xB0, 2, 0x81), (0xB0, 3, 0x82),
             (0xB0, 0, 0x8F), (0xB4, 1, 0x84), (0xB4, 2, 0x85), (0xB4, 3, 0x86),
             (0xB4, 0, 0x83), (0xB4, 1, 0x84), (0xB0, 2, 0x81), (0xB0, 3, 0x82),
             (0xB0, 0, 0x8F), (0xB0, 1, 0x80), (0xB0, 2, 0x81), (0xB4, 3, 0x86),
             (0xB4, 0, 0x83), (0xB4, 1, 0x84), (0xB4, 2, 0x85), (0xB4, 3, 0x86)]  # fmt: skip
    got = [ka.frame_1f2(i) for i in range(20)]
    assert [(f[3], f[6], f[7]) for f in got] == table
    assert all(f[:3] == b"\x10\x64\x00" and f[4:6] == b"\x00\x1e" for f in got)


def test_50c_challenges() -> None:
    assert [ka.frame_50c(n).hex() for n in range(4)] == [
        "000000005dc8",
        "00000001b231",
        "000000025d63",
        "00000003b29a",
    ]


def test_schedule_and_validity() -> None:
    ids = [[i for i, _ in ka.frames_at(t)] for t in range(11)]
    assert ids[0] == [0x1D4, 0x1F2, 0x50B, 0x50C] and ids[1] == [0x1D4, 0x1F2]
    assert all(ka.valid(i, d) for t in range(40) for i, d in ka.frames_at(t))
    assert not ka.valid(0x1F2, ka.frame_1f2(0)[:7] + b"\x80")
    assert not ka.valid(0x50C, bytes.fromhex("0000000000c8"))


# A second, independent VCM emulation: samsta/BatteryController
# (can/services/Nissan/test/test_HappyPoller.cpp), written for real packs.
SAMSTA_1D4 = ("6E6E0000074621C0", "6E6E000047462107", "6E6E0000874621CB", "6E6E0000C746210C")
SAMSTA_1F2 = ("106400B4001E0083", "106400B4001E0184", "106400B4001E0285", "106400B4001E0386")
SAMSTA_50C = ("000000005DC8", "00000001B231", "000000025D63", "00000003B29A",
              "00000000B2A6", "000000015D5F", "00000002B20D", "000000035DF4")  # fmt: skip


def test_checks_agree_with_an_independent_vcm_emulation() -> None:
    """Its frames (other payload bytes in 0x1D4) pass the same CRC-8 and nibble checksum, and
    its 0x1F2 B4 frames are ours; its 0x50C answers follow the pack's 0x55B challenge (AA → 5D,
    55 → B2), which batmux does not read: it sends the fixed 5D/B2 cycle (docs/ev-packs.md)."""
    assert all(ka.valid(ka.VCM_1D4, bytes.fromhex(f)) for f in SAMSTA_1D4)
    assert [ka.frame_1f2(i).hex().upper() for i in (8, 5, 6, 7)] == list(SAMSTA_1F2)
    assert all(ka.valid(ka.VCM_50C, bytes.fromhex(f)) for f in SAMSTA_50C)
    assert [ka.frame_50c(n).hex().upper() for n in range(4)] == list(SAMSTA_50C[:4])
