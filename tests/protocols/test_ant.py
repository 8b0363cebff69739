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


def test_device_info_with_wrong_length_byte() -> None:
    """0x12 replies declare a short length: the end is the first AA 55 with a valid CRC."""
    info = ant.build_frame(ant.REPLY_DEVICE_INFO, 0x026C, b"16ZMUB00-211026A\x55".ljust(40, b"\0"))
    lying = bytearray(info)
    lying[5] = 0x20
    body = bytes(lying[:-4])
    lying[-4:-2] = modbus_crc16(body[1:]).to_bytes(2, "little")
    frames = feed_all(AntCodec(), [bytes(lying[i : i + 20]) for i in range(0, len(lying), 20)])
    assert frames == [bytes(lying)]


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


def _fix_ant(frame: bytearray) -> None:
    frame[-4:-2] = modbus_crc16(bytes(frame[1:-4])).to_bytes(2, "little")


# payload: after header, func, address and length (6 bytes), before CRC and trailer (4)
test_fuzz = fuzz_test(AntCodec, FRAMES, fix=_fix_ant, payload=(6, -4))
