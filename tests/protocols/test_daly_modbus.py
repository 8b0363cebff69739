"""Daly D2 (Modbus-style) codec against the captured vectors, plus fuzz and stream faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.errors import ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import daly_modbus as dm
from batmux.protocols.base import modbus_crc16
from batmux.protocols.daly_modbus import DalyModbusCodec
from ble_contract import check_vector, corrupt, feed_all, fuzz_test, load, vector_chunks, vectors

VECTORS = vectors("daly_modbus")
FRAMES = [bytes.fromhex(load(p)["frames"][0]) for p in VECTORS]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    check_vector(DalyModbusCodec, path)


def test_vector_in_20_byte_notifications() -> None:
    assert feed_all(DalyModbusCodec(), vector_chunks(VECTORS[0], 20)) == FRAMES[:1]


def test_requests_match_documented_bytes() -> None:
    assert dm.read_request(0, 0x3E).hex() == "d2030000003ed7b9"
    assert dm.read_request(0, 0x50).hex() == "d203000000505655"
    assert dm.read_request(0x80, 0x29).hex() == "d20300800029965f"
    assert dm.switch_request("charge", True).hex() == "d20600a500014b8a"
    assert dm.switch_request("charge", False).hex() == "d20600a500008a4a"
    assert dm.switch_request("discharge", True).hex() == "d20600a60001bb8a"
    assert dm.switch_request("discharge", False).hex() == "d20600a600007a4a"
    assert dm.switch_request("balance", True).hex() == "d20600cf00016b96"
    assert dm.parse_request(corrupt(dm.read_request(), -1)) is None


def test_corrupt_truncated_duplicated_interleaved() -> None:
    codec = DalyModbusCodec()
    echo = dm.switch_request("charge", True)
    stream = [corrupt(FRAMES[0]), FRAMES[1][:40], echo, FRAMES[1], FRAMES[1], b"\xd2\x03"]
    frames = feed_all(codec, stream)
    assert codec.corrupt_frames >= 1
    assert frames.count(FRAMES[1]) == 2 and echo in frames
    assert codec.decode(frames).soc_pct == 56.1


def test_short_status_block_is_truncated() -> None:
    with pytest.raises(TruncatedFrame):
        dm.decode_status(FRAMES[0][:60], 0.0, None)
    with pytest.raises(ProtocolError):
        DalyModbusCodec().decode([dm.switch_request("charge", True)])


def test_settings_give_capacity() -> None:
    codec = DalyModbusCodec()
    settings = dm.read_reply(dm.settings_registers(280.0, True, False))
    assert codec.decode(feed_all(codec, [settings, FRAMES[0]])).capacity_ah == 280.0


def test_encoder_round_trip() -> None:
    sample = BatterySample(
        timestamp=0, voltage_v=26.5, current_a=-7.3, soc_pct=77.7, charge_ah=77.7, cycles=5,
        cell_voltages_v=(3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307, 3.308),
        temperatures_c=(18.0, 19.0, 20.0), mos_temperature_c=31.0, charge_enabled=True,
        discharge_enabled=False, balancing=True, alarms=frozenset({Alarm.DISCHARGE_OVERCURRENT}),
    )  # fmt: skip
    codec = DalyModbusCodec()
    got = codec.decode(feed_all(codec, [dm.read_reply(dm.status_registers(sample))]))
    for field in ("voltage_v", "current_a", "soc_pct", "charge_ah", "cycles", "cell_voltages_v",
                  "temperatures_c", "mos_temperature_c", "charge_enabled", "discharge_enabled",
                  "balancing", "alarms"):  # fmt: skip
        assert getattr(got, field) == getattr(sample, field), field


def _fix_daly_modbus(frame: bytearray) -> None:
    frame[-2:] = modbus_crc16(bytes(frame[:-2])).to_bytes(2, "little")


# payload: the register bytes after D2 03 <length>, before the CRC
test_fuzz = fuzz_test(DalyModbusCodec, FRAMES, fix=_fix_daly_modbus, payload=(3, -2))
