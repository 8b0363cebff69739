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
        warnings=frozenset({Alarm.MOS_OVERTEMP, Alarm.CELL_IMBALANCE}),
    )  # fmt: skip
    codec = DalyModbusCodec()
    got = codec.decode(feed_all(codec, [dm.read_reply(dm.status_registers(sample))]))
    for field in ("voltage_v", "current_a", "soc_pct", "charge_ah", "cycles", "cell_voltages_v",
                  "temperatures_c", "mos_temperature_c", "charge_enabled", "discharge_enabled",
                  "balancing", "alarms", "warnings"):  # fmt: skip
        assert getattr(got, field) == getattr(sample, field), field


# -- fault registers, MOS-temperature read: real frames from other projects ---------------------

# syssi/esphome-daly-bms tests/components/daly_bms_ble/common.h STATUS_FRAME_62_REG_NO_ALARMS: a
# real 8S 62-register reply (from syssi/esphome-daly-bms#9, 1 probe at 21 °C, idle).
NO_ALARMS = bytes.fromhex(
    "d2037c0d6e0d690d590dd70d0b0d0b0d0c0d0b00000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000003d0028002800000000000000000000010f753003"
    "e80dd70d0b003d003d000000fa0008000100000000000100010d4600cc000000000000000000000ee1"
)
# The same frame with the fault registers of the probe-in-ice-water test of
# syssi/esphome-daly-bms#20: the user's error bitmask 13194139533312 = 0x00000C0000000000 read
# big-endian from byte 119, i.e. register 0x3B = 0C 00
# (syssi's STATUS_FRAME_62_REG_ALARM_TEMP_DIFF_BOTH).
ICE_WATER = bytes.fromhex(
    "d2037c0d6e0d690d590dd70d0b0d0b0d0c0d0b00000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000003d0028002800000000000000000000010f753003"
    "e80dd70d0b003d003d000000fa0008000100000000000100010d4600cc000000000c00000000000e2d"
)
# patman15/BMS_BLE-HA#55: replies to D2 03 00 3E 00 09 with the official app showing MOS 29 °C
# and 25 °C; BMS_BLE-HA#70: the all-zero reply of a module without that sensor.
MOS_29C = bytes.fromhex("d2031200000000753000000045ffffffffffffffff787e")
MOS_25C = bytes.fromhex("d2031200000000753000000041ffffffffffffffff4abe")
MOS_NONE = bytes.fromhex("d20312" + "00" * 18 + "022c")


def with_faults(fault_bytes: str) -> bytes:
    """NO_ALARMS with bytes 119..126 (registers 0x3A–0x3D as sent) replaced."""
    body = NO_ALARMS[:119] + bytes.fromhex(fault_bytes) + NO_ALARMS[127:-2]
    return dm.frame_with_crc(body)


def test_ice_water_capture_is_a_temperature_difference_not_an_overcurrent() -> None:
    assert with_faults("00000c0000000000") == ICE_WATER  # byte for byte syssi's frame
    sample = DalyModbusCodec().decode([ICE_WATER])
    assert sample.extra["alarm_bits"] == 0x0C00_0000  # classic bits 26 + 27
    assert Alarm.DISCHARGE_OVERCURRENT not in sample.alarms | sample.warnings
    assert sample.alarms == frozenset() and sample.warnings == frozenset()
    assert sample.temperatures_c == (21.0,) and sample.voltage_v == 27.1


# register bytes as sent → what syssi's decoder names (its alarm-faker frames) → batmux
@pytest.mark.parametrize(
    ("faults", "alarms", "warnings"),
    [
        ("0100000000000000", set(), {Alarm.CHARGE_OVERTEMP}),  # charging temperature too high, L1
        ("0001000000000000", set(), {Alarm.CELL_OVERVOLTAGE}),  # cell voltage too high, L1
        ("0000010000000000", set(), {Alarm.CELL_IMBALANCE}),  # voltage difference too high, L1
        ("0000000100000000", set(), {Alarm.CHARGE_OVERCURRENT}),  # charging current too high, L1
        ("0000000001000000", {Alarm.BMS_FAULT}, set()),  # AFE acquisition chip failure
        ("0000000000010000", set(), {Alarm.MOS_OVERTEMP}),  # charging MOS over-temp. warning
        ("0002000000000000", {Alarm.CELL_OVERVOLTAGE}, set()),  # cell voltage too high, L2
        ("0000000800000000", {Alarm.DISCHARGE_OVERCURRENT}, set()),  # discharge current, L2
    ],
)
def test_fault_registers_follow_the_vendor_table(
    faults: str, alarms: set[Alarm], warnings: set[Alarm]
) -> None:
    sample = DalyModbusCodec().decode([with_faults(faults)])
    assert (sample.alarms, sample.warnings) == (alarms, warnings)


@pytest.mark.parametrize(("mos", "celsius"), [(MOS_29C, 29.0), (MOS_25C, 25.0), (MOS_NONE, None)])
def test_mos_temperature_from_the_second_read(mos: bytes, celsius: float | None) -> None:
    codec = DalyModbusCodec()
    frames = feed_all(codec, [mos[:20], mos[20:], NO_ALARMS[:20], NO_ALARMS[20:]])
    assert frames == [mos, NO_ALARMS] and dm.is_mos_block(mos)
    sample = codec.decode(frames)
    assert sample.mos_temperature_c == celsius
    assert "board_temperature" not in sample.extra  # 0xFFFF / 0x0000: no board probe
    assert sample.temperatures_c == (21.0,)


def test_mos_request_is_the_field_readers_bytes() -> None:
    assert dm.MOS_REQUEST.hex() == "d203003e0009f7a3"  # aiobmsble daly_bms, test_daly_bms.py


def test_absent_probe_is_dropped() -> None:
    """A counted probe reading raw 0 (−40 °C) is absent (aiobmsble skips raw 0 for Daly)."""
    frame = bytearray(NO_ALARMS)
    frame[3 + 2 * 0x32 + 1] = 3  # three probes counted: 0x3D, 0x28, 0x00 (absent)
    frame[3 + 2 * 0x22 : 3 + 2 * 0x23] = b"\x00\x00"
    sample = DalyModbusCodec().decode([dm.frame_with_crc(bytes(frame[:-2]))])
    assert sample.temperatures_c == (21.0, 0.0)
    assert sample.extra["absent_probes"] == "3"


def _fix_daly_modbus(frame: bytearray) -> None:
    frame[-2:] = modbus_crc16(bytes(frame[:-2])).to_bytes(2, "little")


# payload: the register bytes after D2 03 <length>, before the CRC
test_fuzz = fuzz_test(
    DalyModbusCodec, [*FRAMES, ICE_WATER, MOS_29C, MOS_NONE], fix=_fix_daly_modbus, payload=(3, -2)
)
