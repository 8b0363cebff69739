"""ANT (2021+) codec against the captured vectors, plus fuzz and stream faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import ant
from batmux.protocols.ant import AntCodec
from batmux.protocols.base import modbus_crc16
from ble_contract import check_vector, corrupt, feed_all, fuzz_test, load, vector_chunks, vectors

VECTORS = vectors("ant")
FRAMES = [b"".join(bytes.fromhex(f) for f in load(p)["frames"]) for p in VECTORS]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    check_vector(AntCodec, path)


def test_notification_holding_end_and_next_start() -> None:
    """ant_1 and ant_2 back to back, re-split in 20 bytes: one chunk straddles both frames."""
    stream = FRAMES[0] + FRAMES[1]
    frames = feed_all(AntCodec(), [stream[i : i + 20] for i in range(0, len(stream), 20)])
    assert frames == FRAMES[:2]
    assert feed_all(AntCodec(), vector_chunks(VECTORS[2], 7)) == FRAMES[2:]


def test_requests_match_documented_bytes() -> None:
    assert ant.STATUS_REQUEST.hex() == "7ea1010000be1855aa55"
    assert ant.DEVICE_INFO_REQUEST.hex() == "7ea1026c022058c4aa55"
    assert ant.switch_request("charge", True).hex() == "7ea1510600006924aa55"
    assert ant.switch_request("charge", False).hex() == "7ea151040000c8e4aa55"
    assert ant.switch_request("discharge", True).hex() == "7ea1510300007925aa55"
    assert ant.switch_request("discharge", False).hex() == "7ea151010000d8e5aa55"
    assert ant.switch_request("balance", True).hex() == "7ea1510d000018e6aa55"
    assert ant.switch_request("balance", False).hex() == "7ea1510e0000e8e6aa55"
    assert ant.parse_request(ant.STATUS_REQUEST) == (0x01, 0, 0xBE)
    assert ant.parse_request(corrupt(ant.STATUS_REQUEST, 6)) is None


# Device-info (0x12) replies as real packs send them: declared length 0x20, CRC, then the
# 4-byte block FF 0B 00 00 with its own CRC 41 F2, then AA 55. 16ZM: syssi/esphome-ant-bms
# docs/pdus/btsnoop_hci_ANT-BLE16ZMUB-reduced.txt line 2, directly before ant_1's status reply.
INFO_16ZM = bytes.fromhex(
    "7ea1126c022031365a4d00000000000000000000000031365a4d554230302d323131303236417208ff0b0000"
    "41f2aa55"
)
# syssi/esphome-ant-bms#172: "22AAUB00-241008A" holds 0x55 ('U') at byte 26.
INFO_ISSUE_172 = bytes.fromhex(
    "7ea1126c02203232504842385442313330410000000032324141554230302d32343130303841ef2fff0b0000"
    "41f2aa55"
)
# A settings read (func 0x22 -> 0x42) in the same log has the same tail (FF 0A 00 00 10 32).
SETTINGS_REPLY = bytes.fromhex("7ea142000002420eb44cff0a00001032aa55")
# syssi/esphome-ant-bms docs/pdus/model2021-req-7ea1010000be1855aa55.txt, first reply: 14S,
# 4 probes counted, probe 3 = D8 FF (-40 degC, not fitted); B+8 = 1, B+9 = 2 at 4.113 V/cell.
STATUS_14S_PROBE_ABSENT = bytes.fromhex(
    "7EA11100008E0501040E02000000000000000000000100000000000000000000000011101110111011101110"
    "1110111011101110111011101110111011101C001C00D8FF1C001C001C007E160000600064000102000080C3"
    "C9014F55B30108530000000000006B28120000000000111001001110010000001110020070000300AC02F1FA"
    "7D2E000094770000DE0700007776000035E2AA55"
)
# fl4p/batmon-ha bmslib/test/data/ant_fixtures.py INLINE_8S (from bmslib/models/ant.py): 8S
# LFP at 3.54 V/cell, SoC 100 %, both probes D8 FF; B+8 = 1, B+9 = 2 (batmon: charge off).
STATUS_8S_NO_PROBES = bytes.fromhex(
    "7ea11100007e05010208020000000000000001004201000000000000000000000000d40dd50dd50dd50dd50d"
    "d40dd50dd50dd8ffd8ff1c001d00110b0000640064000102000000e1f50500e1f505a532000000000000ff97"
    "010000000000d50d0200d40d01000100d40df8ff82000000ab02f2fa100000003a6500001f000000fa620000"
    "11c3aa55"
)


def chunks(stream: bytes, size: int = 20) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


@pytest.mark.parametrize("info", [INFO_16ZM, INFO_ISSUE_172, SETTINGS_REPLY])
def test_read_reply_with_tail_block_then_status(info: bytes) -> None:
    """The real tail reassembles, and the status reply right behind it is not lost."""
    codec = AntCodec()
    frames = feed_all(codec, chunks(info + FRAMES[0]))
    assert frames == [info, FRAMES[0]] and codec.corrupt_frames == 0
    sample = codec.decode(frames)
    assert sample.voltage_v == 52.84
    if info is not SETTINGS_REPLY:
        assert sample.extra["software_version"] == info[22:38].decode()


def test_issue_172_split_on_the_embedded_0x55() -> None:
    frames = feed_all(AntCodec(), [INFO_ISSUE_172[:27], INFO_ISSUE_172[27:], FRAMES[1]])
    assert frames == [INFO_ISSUE_172, FRAMES[1]]


def test_unframeable_reply_never_blocks_the_next() -> None:
    """A device-info reply whose tail is damaged is dropped; the status behind it decodes."""
    broken = bytearray(INFO_16ZM)
    broken[-3] ^= 0xFF  # the tail block's CRC
    codec = AntCodec()
    frames = feed_all(codec, chunks(bytes(broken) + FRAMES[0]))
    assert frames == [FRAMES[0]] and codec.corrupt_frames >= 1
    broken = bytearray(INFO_16ZM)
    broken[5] = 0x40  # a length byte that overshoots into the status reply
    frames = feed_all(codec, chunks(bytes(broken) + FRAMES[1]))
    assert frames == [FRAMES[1]]


def test_absent_probe_is_dropped() -> None:
    sample = AntCodec().decode([STATUS_14S_PROBE_ABSENT])
    assert sample.temperatures_c == (28.0, 28.0, 28.0)
    assert sample.extra["absent_probes"] == "3"
    assert sample.mos_temperature_c == 28.0 and sample.voltage_v == 57.58
    sample = AntCodec().decode([STATUS_8S_NO_PROBES])
    assert sample.temperatures_c == () and sample.extra["absent_probes"] == "1,2"
    assert (sample.mos_temperature_c, sample.extra["balancer_temperature"]) == (28.0, 29.0)


@pytest.mark.parametrize("frame", [STATUS_14S_PROBE_ABSENT, STATUS_8S_NO_PROBES])
def test_full_pack_is_charge_protection_not_undervoltage(frame: bytes) -> None:
    """B+9 = 2 on full packs: the CHARGE MOSFET is off for overcharge; discharge stays on."""
    sample = AntCodec().decode([frame])
    assert (sample.charge_enabled, sample.discharge_enabled) == (False, True)
    assert sample.alarms == frozenset({Alarm.CELL_OVERVOLTAGE})


def test_corrupt_truncated_duplicated_interleaved() -> None:
    codec = AntCodec()
    stream = [corrupt(FRAMES[0]), FRAMES[1][:50], FRAMES[0], FRAMES[0], b"\x7e", FRAMES[1]]
    frames = feed_all(codec, stream)
    assert codec.corrupt_frames >= 1
    assert frames.count(FRAMES[0]) == 2 and frames[-1] == FRAMES[1]
    assert codec.decode(frames).current_a == -1.5


def test_decode_needs_a_status_reply() -> None:
    with pytest.raises(ProtocolError):
        AntCodec().decode([ant.build_write_reply(6)])


def test_encoder_round_trip() -> None:
    sample = BatterySample(
        timestamp=0, voltage_v=50.88, current_a=12.3, soc_pct=55, charge_ah=44.0,
        capacity_ah=80.0, cell_voltages_v=(3.18,) * 16, temperatures_c=(25.0, 26.0, -5.0),
        mos_temperature_c=33.0, charge_enabled=False, discharge_enabled=True, balancing=True,
        soh_pct=97, alarms=frozenset({Alarm.CHARGE_OVERTEMP}),
    )  # fmt: skip
    codec = AntCodec()
    got = codec.decode(feed_all(codec, [ant.build_status(sample)]))
    for field in ("voltage_v", "current_a", "soc_pct", "charge_ah", "capacity_ah",
                  "cell_voltages_v", "temperatures_c", "mos_temperature_c", "charge_enabled",
                  "discharge_enabled", "balancing", "soh_pct", "alarms"):  # fmt: skip
        assert getattr(got, field) == getattr(sample, field), field


def test_device_info_encoder_matches_the_real_reply() -> None:
    assert ant.build_device_info("16ZM", "16ZMUB00-211026A") == INFO_16ZM
    assert ant.build_device_info("22PHB8TB130A", "22AAUB00-241008A") == INFO_ISSUE_172


def _fix_ant(frame: bytearray) -> None:
    frame[-4:-2] = modbus_crc16(bytes(frame[1:-4])).to_bytes(2, "little")


# payload: after header, func, address and length (6 bytes), before CRC and trailer (4)
test_fuzz = fuzz_test(
    AntCodec,
    [*FRAMES, INFO_16ZM, SETTINGS_REPLY, STATUS_14S_PROBE_ABSENT],
    fix=_fix_ant,
    payload=(6, -4),
)
