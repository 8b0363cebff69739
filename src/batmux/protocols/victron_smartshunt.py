"""Victron SmartShunt over BLE: the GATT service (connected, PIN-bonded) and the encrypted
"Instant Readout" advertisement (manufacturer data of company 0x02E1).

Instant Readout payload (company id not included)::

    10 02 | 89 A3 | 02 | B0 40 | AF | 92 5D 09 …
    prefix  model   rec  IV(le)  key  AES-128-CTR ciphertext
            0xA389  0x02 0x40B0  [0]

The counter block is the IV as a 128-bit little-endian integer (incremented per 16-byte block).
The battery-monitor plaintext is a bit stream read LSB first (vector victron_smartshunt_1
decrypts to ``ff ff e5 04 00 00 00 00 03 00 00 f4 01 40 df`` → 12.53 V, 0 A, −50.0 Ah, 50.0 %).

The GATT (connected) mode lives in ``batmux.protocols.victron_gatt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec
from batmux.protocols.victron_gatt import VictronGattCodec, is_gatt_read

COMPANY_ID = 0x02E1
RECORD_BATTERY_MONITOR = 0x02
HEADER_LEN = 8
RECORD_BITS = 16 + 16 + 16 + 16 + 2 + 22 + 20 + 10
RECORD_LEN = (RECORD_BITS + 7) // 8  # 15
DEFAULT_PREFIX = 0x0210
MODEL_SMARTSHUNT_500A = 0xA389
AUX_STARTER, AUX_MIDPOINT, AUX_TEMPERATURE, AUX_NONE = range(4)


class AdvertisementKeyMismatch(ProtocolError):
    """The advertisement was encrypted with another key than the one configured."""


@dataclass(frozen=True, slots=True)
class BitField:
    """One field of the bit-packed record: width in bits, signedness, scale, n/a sentinel."""

    name: str
    bits: int
    signed: bool = False
    scale: float = 1.0
    not_available: int | None = None


BATTERY_MONITOR = (
    BitField("remaining_mins", 16, not_available=0xFFFF),
    BitField("voltage", 16, signed=True, scale=0.01, not_available=0x7FFF),
    BitField("alarm_bits", 16),
    BitField("aux", 16),
    BitField("aux_mode", 2),
    BitField("current", 22, signed=True, scale=0.001),
    BitField("consumed_ah", 20, scale=-0.1, not_available=0xFFFFF),
    BitField("soc", 10, scale=0.1, not_available=0x3FF),
)

# Alarm reason bits (VE.Direct AR) → normalized alarms; starter-battery and AC bits stay raw.
ALARM_BITS: dict[int, Alarm] = {
    0x0001: Alarm.PACK_UNDERVOLTAGE,
    0x0002: Alarm.PACK_OVERVOLTAGE,
    0x0004: Alarm.LOW_SOC,
    0x0020: Alarm.CHARGE_UNDERTEMP,  # "low temperature"
    0x0040: Alarm.DISCHARGE_OVERTEMP,  # "high temperature"
    0x0080: Alarm.CELL_IMBALANCE,  # midpoint deviation
    0x0100: Alarm.DISCHARGE_OVERCURRENT,  # overload
    0x1000: Alarm.SHORT_CIRCUIT,
    0x2000: Alarm.BMS_FAULT,  # BMS lockout
}


def _unpack(data: bytes, fields: Sequence[BitField]) -> dict[str, float | None]:
    stream = int.from_bytes(data, "little")
    out: dict[str, float | None] = {}
    pos = 0
    for f in fields:
        raw = (stream >> pos) & ((1 << f.bits) - 1)
        pos += f.bits
        if f.not_available is not None and raw == f.not_available:
            out[f.name] = None
            continue
        if f.signed and raw >> (f.bits - 1):
            raw -= 1 << f.bits
        out[f.name] = round(raw * f.scale, 6) if f.scale != 1.0 else raw
    return out


def _pack(values: dict[str, float | None], fields: Sequence[BitField]) -> bytes:
    stream = pos = 0
    for f in fields:
        value = values.get(f.name)
        if value is None:
            raw = f.not_available if f.not_available is not None else 0
        else:
            raw = round(value / f.scale)
            lo = -(1 << f.bits - 1) if f.signed else 0
            hi = (1 << (f.bits - 1 if f.signed else f.bits)) - 1
            if f.not_available is not None and f.not_available <= hi:
                hi = f.not_available - 1  # never encode a real value as "n/a"
            raw = max(lo, min(raw, hi)) & ((1 << f.bits) - 1)
        stream |= raw << pos
        pos += f.bits
    size = (pos + 7) // 8
    stream |= ((1 << 8 * size) - 1) ^ ((1 << pos) - 1)  # the device pads with 1 bits
    return stream.to_bytes(size, "little")


def _ctr(key: bytes, iv: int, data: bytes) -> bytes:
    """AES-128-CTR with a little-endian 128-bit counter starting at ``iv`` (enc = dec)."""
    if len(key) != 16:
        raise ProtocolError(f"advertisement key must be 16 bytes, got {len(key)}")
    blocks = (len(data) + 15) // 16
    counters = b"".join(((iv + i) % (1 << 128)).to_bytes(16, "little") for i in range(blocks))
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    stream = encryptor.update(counters) + encryptor.finalize()
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


@dataclass(frozen=True, slots=True)
class Advertisement:
    prefix: int
    model_id: int
    record_type: int
    iv: int
    key_check: int
    ciphertext: bytes


def parse_container(payload: bytes) -> Advertisement:
    if len(payload) < HEADER_LEN + 1:
        raise TruncatedFrame(f"Victron advertisement: {len(payload)} bytes, need > {HEADER_LEN}")
    return Advertisement(
        prefix=int.from_bytes(payload[0:2], "little"),
        model_id=int.from_bytes(payload[2:4], "little"),
        record_type=payload[4],
        iv=int.from_bytes(payload[5:7], "little"),
        key_check=payload[7],
        ciphertext=bytes(payload[8:]),
    )


def decrypt_advertisement(payload: bytes, key: bytes) -> tuple[Advertisement, bytes]:
    """Container + plaintext; ``AdvertisementKeyMismatch`` when the key-check byte differs."""
    adv = parse_container(payload)
    if len(key) != 16:
        raise ProtocolError(f"advertisement key must be 16 bytes (32 hex digits), got {len(key)}")
    if adv.key_check != key[0]:
        raise AdvertisementKeyMismatch(
            f"Victron advertisement key-check byte 0x{adv.key_check:02x} does not match the "
            f"configured key (starts 0x{key[0]:02x}): wrong advertisement key for this device?"
        )
    return adv, _ctr(key, adv.iv, adv.ciphertext)


def decode_battery_monitor(plain: bytes, timestamp: float = 0.0) -> BatterySample:
    """Battery-monitor record plaintext → sample."""
    if len(plain) < RECORD_LEN:
        raise TruncatedFrame(f"Victron battery-monitor record: {len(plain)} bytes, need 15")
    v = _unpack(plain[:RECORD_LEN], BATTERY_MONITOR)
    soc = v["soc"]
    if soc is not None and soc > 100.0:
        raise CorruptFrame(f"Victron record SoC {soc} % > 100 (wrong key or corrupt payload?)")
    alarm_bits = int(v["alarm_bits"] or 0)
    aux_mode = int(v["aux_mode"] or 0)
    aux = int(v["aux"] or 0)
    extra: dict[str, float | int | bool] = {"alarm_bits": alarm_bits, "aux_mode": aux_mode}
    for name in ("consumed_ah", "remaining_mins"):
        if v[name] is not None:
            extra[name] = v[name]  # type: ignore[assignment]
    temperatures: tuple[float, ...] = ()
    if aux_mode == AUX_STARTER:
        extra["starter_voltage"] = round((aux - 0x10000 if aux & 0x8000 else aux) * 0.01, 2)
    elif aux_mode == AUX_MIDPOINT:
        extra["midpoint_voltage"] = round(aux * 0.01, 2)
    elif aux_mode == AUX_TEMPERATURE:
        temperatures = (round(aux * 0.01 - 273.15, 2),)
    return BatterySample(
        timestamp=timestamp,
        voltage_v=v["voltage"],
        current_a=v["current"],
        soc_pct=soc,
        temperatures_c=temperatures,
        alarms=frozenset(a for bit, a in ALARM_BITS.items() if alarm_bits & bit),
        extra=extra,
    )


def decode_advertisement(payload: bytes, key: bytes, timestamp: float = 0.0) -> BatterySample:
    """One Instant Readout manufacturer-data payload → sample (``batmux decode --key``).

    Raises ``AdvertisementKeyMismatch`` for a wrong key, other ``ProtocolError``s for
    truncated payloads or records that are not a battery monitor.
    """
    adv, plain = decrypt_advertisement(payload, key)
    if adv.record_type != RECORD_BATTERY_MONITOR:
        raise ProtocolError(f"Victron record type 0x{adv.record_type:02x} is not a battery monitor")
    sample = decode_battery_monitor(plain, timestamp)
    return sample.with_(extra={**sample.extra, "model_id": adv.model_id})


class VictronAdvertisementCodec(Codec):
    """Instant Readout payloads; ``feed`` checks the container and key byte, ``decode`` decrypts."""

    name = "victron_smartshunt"

    def __init__(self, key: bytes | None = None) -> None:
        super().__init__()
        self.key = key

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.key is None and is_gatt_read(chunk):
            return [bytes(chunk)]  # connected mode: a capture of GATT reads (see ``decode``)
        try:
            adv = parse_container(chunk)
            if adv.record_type != RECORD_BATTERY_MONITOR:
                raise CorruptFrame(f"Victron record type 0x{adv.record_type:02x} is not 0x02")
            if self.key is not None:
                decrypt_advertisement(chunk, self.key)
        except ProtocolError as exc:
            self.reject(exc)
            return []
        return [bytes(chunk)]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        reads = [f for f in frames if is_gatt_read(f)]
        if self.key is None and reads:  # `batmux decode victron_smartshunt --capture FILE`
            return VictronGattCodec().decode(reads, timestamp)
        if self.key is None:
            raise ProtocolError("Victron Instant Readout needs the advertisement key (--key)")
        if not frames:
            raise ProtocolError(f"no Victron advertisement{_detail(self)}")
        return decode_advertisement(frames[-1], self.key, timestamp)

    def decode_with_key(
        self, frames: Sequence[str], key: str, timestamp: float = 0.0
    ) -> BatterySample:
        """``batmux decode victron_smartshunt --key KEYHEX PAYLOADHEX``: the newest payload."""
        try:
            raw_key = bytes.fromhex(key.strip())
        except ValueError:
            raise ProtocolError("--key must be 32 hex digits") from None
        payloads = [self.parse_cli_frame(text) for text in frames]
        if not payloads:
            raise ProtocolError("no advertisement payload given")
        return decode_advertisement(payloads[-1], raw_key, timestamp)


def _detail(codec: Codec) -> str:
    return f": {codec.last_error}" if codec.last_error else ""


# -- encoders (the device side, used by the simulator) ---------------------------------------


def record_values(sample: BatterySample) -> dict[str, float | None]:
    """Record fields for a sample (the inverse of ``decode_battery_monitor``)."""
    extra = sample.extra
    aux_mode, aux = AUX_NONE, None
    if sample.temperatures_c:
        aux_mode, aux = AUX_TEMPERATURE, (sample.temperatures_c[0] + 273.15) * 100
    elif "starter_voltage" in extra:
        aux_mode, aux = AUX_STARTER, float(extra["starter_voltage"]) * 100
    elif "midpoint_voltage" in extra:
        aux_mode, aux = AUX_MIDPOINT, float(extra["midpoint_voltage"]) * 100
    alarm_bits = int(extra.get("alarm_bits", 0)) | sum(
        bit for bit, alarm in ALARM_BITS.items() if alarm in sample.alarms
    )
    consumed = extra.get("consumed_ah")
    if consumed is None and sample.capacity_ah is not None and sample.charge_ah is not None:
        consumed = sample.charge_ah - sample.capacity_ah
    remaining = extra.get("remaining_mins")
    return {
        "remaining_mins": float(remaining) if remaining is not None else None,
        "voltage": sample.voltage_v,
        "alarm_bits": alarm_bits,
        "aux": round(aux) & 0xFFFF if aux is not None else 0,
        "aux_mode": aux_mode,
        "current": sample.current_a,
        "consumed_ah": float(consumed) if consumed is not None else None,
        "soc": sample.soc_pct,
    }


def build_advertisement(
    sample: BatterySample, key: bytes, counter: int, model_id: int = MODEL_SMARTSHUNT_500A
) -> bytes:
    """An Instant Readout payload (without the company id) for ``sample``; IV = ``counter``."""
    plain = _pack(record_values(sample), BATTERY_MONITOR)
    iv = counter & 0xFFFF
    header = (
        DEFAULT_PREFIX.to_bytes(2, "little")
        + model_id.to_bytes(2, "little")
        + bytes([RECORD_BATTERY_MONITOR])
        + iv.to_bytes(2, "little")
        + key[:1]
    )
    return header + _ctr(key, iv, plain)
