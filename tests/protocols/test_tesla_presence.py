"""The Tesla vehicle-presence frames against what Battery-Emulator's own code transmits.

tests/vectors/tesla_presence/battery_emulator_tx.json was recorded by running Battery-Emulator's
transmit_can (commit 62532e94) unchanged in a throwaway harness (see its ``how``): the first 17
frames per id, their first time and period. batmux's codec is written separately from the facts.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from batmux.protocols import tesla_keepalive
from batmux.protocols.tesla_presence import (
    TICK_S,
    CarConfig,
    Presence,
    checksum,
    cruise,
    is_valid,
    stalk,
)

VECTOR = json.loads(
    (Path(__file__).parents[1] / "vectors" / "tesla_presence" / "battery_emulator_tx.json")
    .read_text()
)  # fmt: skip
EXPECTED = VECTOR["frames"]


def run(ticks: int, closed: bool = True) -> dict[str, list[tuple[int, str]]]:
    """tick → frames, grouped per id as (tick, hex)."""
    presence = Presence()
    out: dict[str, list[tuple[int, str]]] = {}
    for tick in range(ticks):
        for can_id, data in presence.frames_at(tick, closed):
            out.setdefault(f"0x{can_id:03X}", []).append((tick, data.hex().upper()))
    return out


SENT = run(17 * 100 + 5)  # 17 sends of the slowest (1 s) frames


def test_source_cites_file_and_commit() -> None:
    assert "62532e944e06bd1d6462179ba92068b48d98ab89" in VECTOR["source"]
    assert "TESLA-BATTERY.cpp" in VECTOR["source"]


def test_the_same_frames_as_the_field_sends() -> None:
    assert set(SENT) == set(EXPECTED)


@pytest.mark.parametrize("can_id", sorted(EXPECTED))
def test_frames_byte_for_byte(can_id: str) -> None:
    want = EXPECTED[can_id]["sends"]
    got = [data for _, data in SENT[can_id][: len(want)]]
    if can_id == "0x2E8":  # the field's first 0x2E8 carries a wrong checksum; batmux's does not
        first = bytes.fromhex(want[0])
        assert first[7] != checksum(first, 0x2E8, 7)
        assert got[0] == want[0][:14] + f"{checksum(first, 0x2E8, 7):02X}"
        got, want = got[1:], want[1:]
    assert got == want


@pytest.mark.parametrize("can_id", sorted(EXPECTED))
def test_periods(can_id: str) -> None:
    ticks = [t for t, _ in SENT[can_id]]
    gaps = {round((b - a) * TICK_S * 1000) for a, b in pairwise(ticks)}
    assert gaps == {EXPECTED[can_id]["period_ms"]}


def test_vehicle_status_only_while_closed() -> None:
    open_pack = run(200, closed=False)
    assert "0x3A1" not in open_pack
    presence = Presence()
    for tick in range(100):  # open for 1 s: nothing of 0x3A1 is used up
        presence.frames_at(tick, closed=False)
    first = [d for t in range(100, 110) for i, d in presence.frames_at(t, True) if i == 0x3A1]
    assert first[0].hex().upper() == EXPECTED["0x3A1"]["sends"][0]


def test_checksum_rule_is_the_keepalive_rule() -> None:
    for data in ("605555155451F1D8", "61055505000000E3", "405555055451F5AC"):
        frame = bytes.fromhex(data)
        assert checksum(frame, 0x221, 7) == tesla_keepalive.checksum(frame) == frame[7]


# A real car's frames (2019 Model 3 RHD, vehicle bus, SavvyCAN CSV: damienmaguire/
# Tesla-Model-3-Charger CAN_Logs/2019M3RHD/openccs.csv, lines at the µs time stamps given; the
# same log as tests/vectors/logs/, whose trimmed copy keeps only the reader's ids).
REAL_CAR = (
    (18880255, 0x221, "610505000000800E"),  # VCFRONT_LVPowerState, the keep-alive itself
    (18925724, 0x221, "6055551554519178"),
    (18846853, 0x118, "5704221800000000"),  # DI_systemStatus, counter 4, 5, 6
    (18847300, 0x118, "5805221800000000"),
    (18849467, 0x118, "5906221800000000"),
    (18847430, 0x2A8, "020000000080E00C"),
    (18886203, 0x2E8, "020000000080E04C"),
)


def test_checksums_agree_with_a_real_car() -> None:
    """The 0x221 keep-alive and the presence checksums were built from Battery-Emulator; a real
    car's own frames carry the same checksums (and 0x118's counter advances by one)."""

    def valid(can_id: int, frame: bytes) -> bool:
        return tesla_keepalive.is_valid(frame) if can_id == 0x221 else is_valid(can_id, frame)

    for _, can_id, data in REAL_CAR:
        frame = bytes.fromhex(data)
        assert valid(can_id, frame), (hex(can_id), data)
        spoiled = bytearray(frame)
        spoiled[0 if can_id == 0x118 else 7] ^= 1  # the checksum byte
        assert not valid(can_id, bytes(spoiled)), (hex(can_id), data)
    counters = [bytes.fromhex(d)[1] & 0x0F for _, i, d in REAL_CAR if i == 0x118]
    assert counters == [4, 5, 6]
    # 0x213's rule and 0x229's table, on the car's frames at 18847151 and 18880148
    assert cruise(0x0B) == bytes.fromhex("B0C5") and stalk(0) == bytes.fromhex("460000")


def test_car_config_reproduces_the_headers_examples() -> None:
    """TESLA-BATTERY.h's own 0x7FF literals: mux 1 "UK/RHD" and mux 3 "EU/Long Range"."""
    uk = CarConfig(country="GB", right_hand_drive=True, map_region=1, chassis=2, pack_energy=1)
    muxes = uk.muxes()
    assert muxes[0].hex().upper() == "0149424700031501"
    assert muxes[2].hex().upper() == "0301084801000012"
    lhd = CarConfig(right_hand_drive=False, chassis=5, pack_energy=3).muxes()
    assert lhd[0][1] == 0x41  # bit 11 cleared
    assert (lhd[2][2] >> 2) & 0x07 == 5 and lhd[2][4] & 0x1F == 3
