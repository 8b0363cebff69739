"""Victron SmartShunt: Instant Readout vectors, key check, GATT codec, fuzz, encoders."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import victron_gatt as vg
from batmux.protocols import victron_smartshunt as vs
from batmux.protocols.victron_smartshunt import (
    AdvertisementKeyMismatch,
    VictronAdvertisementCodec,
    decode_advertisement,
)
from ble_contract import decode_or_error
from conftest import VECTORS as SHARED_VECTORS
from conftest import load_vectors
from helpers import check_sample

VECTOR_DIR = SHARED_VECTORS / "ble"
VECTORS = [VECTOR_DIR / f"{name}.json" for name, _ in load_vectors("ble", "victron_smartshunt_")]


def load(path: Path) -> tuple[dict, bytes, bytes]:
    vec = json.loads(path.read_text())
    return vec, bytes.fromhex(vec["advertisement_key"]), bytes.fromhex(vec["frames"][0])


def test_vectors_present() -> None:
    assert len(VECTORS) >= 3, f"victron vectors missing in {VECTOR_DIR}"


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_decodes_to_expected(path: Path) -> None:
    vec, key, payload = load(path)
    check_sample(decode_advertisement(payload, key, 5.0), vec["expected"])
    codec = VictronAdvertisementCodec(key)
    frames = codec.feed(payload)
    assert frames == [payload]
    check_sample(codec.decode(frames, 5.0), vec["expected"])


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_decrypts_to_recorded_plaintext(path: Path) -> None:
    vec, key, payload = load(path)
    adv, plain = vs.decrypt_advertisement(payload, key)
    assert plain.hex() == vec["decrypted_hex"]
    assert (adv.model_id, adv.record_type) == (0xA389, vs.RECORD_BATTERY_MONITOR)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_encoder_reproduces_vector_bytes(path: Path) -> None:
    _, key, payload = load(path)
    adv = vs.parse_container(payload)
    sample = decode_advertisement(payload, key)
    assert vs.build_advertisement(sample, key, adv.iv) == payload


def test_wrong_key_is_a_clear_protocol_error() -> None:
    _, key, payload = load(VECTORS[0])
    wrong = bytes([key[0] ^ 0xFF]) + key[1:]
    with pytest.raises(AdvertisementKeyMismatch, match="key-check byte"):
        decode_advertisement(payload, wrong)
    codec = VictronAdvertisementCodec(wrong)
    assert codec.feed(payload) == []
    assert codec.corrupt_frames == 1
    assert isinstance(codec.last_error, AdvertisementKeyMismatch)


def test_codec_without_key_says_so() -> None:
    _, _, payload = load(VECTORS[0])
    codec = VictronAdvertisementCodec()
    with pytest.raises(ProtocolError, match="key"):
        codec.decode(codec.feed(payload))


def test_truncated_and_foreign_records() -> None:
    _, key, payload = load(VECTORS[0])
    with pytest.raises(TruncatedFrame):
        decode_advertisement(payload[:6], key)
    with pytest.raises(TruncatedFrame):
        decode_advertisement(payload[:14], key)
    solar = payload[:4] + b"\x01" + payload[5:]
    with pytest.raises(ProtocolError, match="not a battery monitor"):
        decode_advertisement(solar, key)


def test_round_trip_all_fields() -> None:
    key = bytes(range(16))
    truth = BatterySample(
        timestamp=0.0,
        voltage_v=26.64,
        current_a=-123.456,
        soc_pct=87.3,
        temperatures_c=(18.5,),
        alarms=frozenset({Alarm.LOW_SOC, Alarm.SHORT_CIRCUIT}),
        extra={"consumed_ah": -31.2, "remaining_mins": 512},
    )
    payload = vs.build_advertisement(truth, key, counter=0x1234)
    got = decode_advertisement(payload, key)
    assert got.voltage_v == pytest.approx(26.64)
    assert got.current_a == pytest.approx(-123.456)
    assert got.soc_pct == pytest.approx(87.3)
    assert got.temperatures_c == pytest.approx((18.5,))
    assert got.alarms == truth.alarms
    assert got.extra["alarm_bits"] == 0x0004 | 0x1000
    assert got.extra["consumed_ah"] == pytest.approx(-31.2)
    assert got.extra["remaining_mins"] == 512
    assert got.extra["aux_mode"] == vs.AUX_TEMPERATURE


def test_multi_block_ctr_uses_little_endian_counter() -> None:
    key = bytes(range(16))
    data = bytes(40)
    # Decrypting the encryption gives the plaintext back, and block 2 uses counter iv + 1.
    enc = vs._ctr(key, 0xFFFF, data)
    assert vs._ctr(key, 0xFFFF, enc) == data
    assert enc[16:32] == vs._ctr(key, 0x10000, bytes(16))


# -- GATT ------------------------------------------------------------------------------------


def gatt_reads(values: dict[str, float | None]) -> list[bytes]:
    return [
        vg.gatt_frame(g.register, vg.encode_gatt_value(g, values[g.name])) for g in vg.GATT_VALUES
    ]


def test_gatt_round_trip_and_not_available() -> None:
    codec = vg.VictronGattCodec()
    values = {
        "voltage": 13.27,
        "current": -4.321,
        "power": -57.0,
        "soc": 81.25,
        "consumed_ah": -18.7,
    }
    frames = [f for r in gatt_reads(values) for f in codec.feed(r)]
    got = codec.decode(frames, 2.0)
    assert (got.voltage_v, got.current_a, got.power_w, got.soc_pct) == pytest.approx(
        (13.27, -4.321, -57.0, 81.25)
    )
    assert got.extra["consumed_ah"] == pytest.approx(-18.7)
    values.update(soc=None, consumed_ah=None)
    got = codec.decode([f for r in gatt_reads(values) for f in codec.feed(r)])
    assert got.soc_pct is None and "consumed_ah" not in got.extra
    assert vg.encode_gatt_value(vg.GATT_BY_REGISTER[vg.REG_CONSUMED_AH], None) == bytes.fromhex(
        "ffffff7f"
    )


def test_gatt_uuid_and_keep_alive() -> None:
    assert vg.gatt_uuid(vg.REG_SOC) == "65970fff-4bda-4c1e-af4b-551c4cf74769"
    assert vg.gatt_uuid(vg.REG_CURRENT) == "6597ed8c-4bda-4c1e-af4b-551c4cf74769"
    assert vg.keep_alive_value(20000) == bytes.fromhex("204e")


def test_gatt_bad_reads_are_counted() -> None:
    codec = vg.VictronGattCodec()
    assert codec.feed(b"\xed") == []
    assert codec.feed(vg.gatt_frame(vg.REG_CURRENT, b"\x01\x02")) == []
    assert codec.feed(vg.gatt_frame(0x1234, b"\x01\x02")) == []
    assert codec.corrupt_frames == 3
    with pytest.raises(ProtocolError):
        codec.decode([])
    bad_soc = vg.gatt_frame(vg.REG_SOC, (20000).to_bytes(2, "little"))
    volts = vg.gatt_frame(vg.REG_VOLTAGE, (1300).to_bytes(2, "little"))
    with pytest.raises(CorruptFrame):
        codec.decode(codec.feed(volts) + codec.feed(bad_soc))


# -- fuzz ------------------------------------------------------------------------------------


@pytest.mark.fuzz
@given(st.binary(min_size=16, max_size=16), st.binary(max_size=40))
def test_fuzz_random_keys_and_payloads(key: bytes, payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_advertisement(payload, key)
    codec = VictronAdvertisementCodec(key)
    decode_or_error(codec, codec.feed(payload))


@pytest.mark.fuzz
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=7, max_size=30))
def test_fuzz_matching_key_byte_random_ciphertext(key: bytes, body: bytes) -> None:
    # The key-check byte passes, the ciphertext is noise: decode or ProtocolError, never more.
    payload = bytes.fromhex("100289a302") + body[:2] + key[:1] + body[2:]
    codec = VictronAdvertisementCodec(key)
    decode_or_error(codec, codec.feed(payload))


@pytest.mark.fuzz
@given(st.binary(max_size=0) | st.binary(max_size=12), st.binary(max_size=12))
def test_fuzz_key_of_wrong_length(key: bytes, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_advertisement(bytes.fromhex("100289a302b040af") + payload, key)


@pytest.mark.fuzz
@given(st.lists(st.binary(max_size=8), max_size=8))
def test_fuzz_gatt_reads(chunks: list[bytes]) -> None:
    codec = vg.VictronGattCodec()
    decode_or_error(codec, [f for c in chunks for f in codec.feed(c)])
