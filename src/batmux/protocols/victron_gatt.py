"""Victron SmartShunt connected mode: one PIN-protected GATT characteristic per value.

Each value sits on ``6597xxxx-4bda-4c1e-af4b-551c4cf74769`` (xxxx = the VE.Direct register),
little endian; the all-ones-but-sign value means "not available":

    6597ed8d  voltage      s16  0.01 V     6597ed8c  current   s32  0.001 A (+ = charging)
    6597ed8e  power        s16  1 W        65970fff  SoC       u16  0.01 %
    6597eeff  consumed Ah  s32  0.1 Ah     6597ffff  keep-alive (write) u16 ms, 0xFFFF = forever
    65970000  the service

The codec takes a read as ``register(u16be) + value`` so the same ``feed``/``decode``
contract as the notify-based families applies. No captured values exist: the layout is from
birdie1/victron and fl4p/batmon-ha and is tested against the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from batmux.errors import CorruptFrame, ProtocolError, TruncatedFrame
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec

GATT_BASE = "6597{:04x}-4bda-4c1e-af4b-551c4cf74769"
REG_KEEP_ALIVE = 0xFFFF
REG_CONSUMED_AH, REG_POWER, REG_VOLTAGE, REG_CURRENT, REG_SOC = (
    0xEEFF,
    0xED8E,
    0xED8D,
    0xED8C,
    0x0FFF,
)


@dataclass(frozen=True, slots=True)
class GattValue:
    name: str
    register: int
    size: int
    signed: bool
    scale: float
    not_available: int

    @property
    def uuid(self) -> str:
        return gatt_uuid(self.register)


GATT_VALUES = (
    GattValue("voltage", REG_VOLTAGE, 2, True, 0.01, 0x7FFF),
    GattValue("current", REG_CURRENT, 4, True, 0.001, 0x7FFFFFFF),
    GattValue("power", REG_POWER, 2, True, 1.0, 0x7FFF),
    GattValue("soc", REG_SOC, 2, False, 0.01, 0xFFFF),
    GattValue("consumed_ah", REG_CONSUMED_AH, 4, True, 0.1, 0x7FFFFFFF),
)
GATT_BY_REGISTER = {g.register: g for g in GATT_VALUES}


def is_gatt_read(chunk: bytes) -> bool:
    """A register-tagged read of a known value (as a ``batmux run --capture`` file holds)."""
    spec = GATT_BY_REGISTER.get(int.from_bytes(chunk[:2], "big")) if len(chunk) >= 2 else None
    return spec is not None and len(chunk) - 2 >= spec.size


def gatt_uuid(register: int) -> str:
    return GATT_BASE.format(register)


def keep_alive_value(ms: int) -> bytes:
    """Value written to the keep-alive characteristic; 0xFFFF = forever."""
    return min(ms, 0xFFFF).to_bytes(2, "little")


def gatt_frame(register: int, value: bytes) -> bytes:
    """Tag one characteristic read with its register so the codec can tell reads apart."""
    return register.to_bytes(2, "big") + value


def encode_gatt_value(spec: GattValue, value: float | None) -> bytes:
    """Device side: the bytes a characteristic read returns."""
    if value is None:
        raw = spec.not_available
    else:
        bits = 8 * spec.size
        lo = -(1 << bits - 1) if spec.signed else 0
        raw = max(lo, min(round(value / spec.scale), spec.not_available - 1))
    return raw.to_bytes(spec.size, "little", signed=spec.signed)


class VictronGattCodec(Codec):
    """Characteristic reads, each tagged ``register(u16be) + value``."""

    name = "victron_smartshunt_gatt"

    def feed(self, chunk: bytes) -> list[bytes]:
        if len(chunk) < 2:
            self.reject(TruncatedFrame("Victron GATT read without register tag"))
            return []
        spec = GATT_BY_REGISTER.get(int.from_bytes(chunk[:2], "big"))
        if spec is None:
            self.reject(CorruptFrame(f"unknown Victron GATT register 0x{chunk[:2].hex()}"))
            return []
        if len(chunk) - 2 < spec.size:
            self.reject(
                TruncatedFrame(f"Victron {spec.name}: {len(chunk) - 2} bytes, need {spec.size}")
            )
            return []
        return [bytes(chunk)]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        values: dict[str, float | None] = {}
        for frame in frames:
            spec = GATT_BY_REGISTER.get(int.from_bytes(frame[:2], "big"))
            if spec is None or len(frame) - 2 < spec.size:
                continue
            raw = int.from_bytes(frame[2 : 2 + spec.size], "little", signed=spec.signed)
            available = (raw & ((1 << 8 * spec.size) - 1)) != spec.not_available
            values[spec.name] = round(raw * spec.scale, 6) if available else None
        if values.get("voltage") is None and values.get("current") is None:
            raise ProtocolError(f"no Victron voltage/current read{_detail(self)}")
        soc = values.get("soc")
        if soc is not None and not 0.0 <= soc <= 100.0:
            raise CorruptFrame(f"Victron SoC {soc} % out of range")
        extra: dict[str, float | int | bool] = {}
        if values.get("consumed_ah") is not None:
            extra["consumed_ah"] = values["consumed_ah"]  # type: ignore[assignment]
        return BatterySample(
            timestamp=timestamp,
            voltage_v=values.get("voltage"),
            current_a=values.get("current"),
            power_w=values.get("power"),
            soc_pct=soc,
            extra=extra,
        )


def _detail(codec: Codec) -> str:
    return f": {codec.last_error}" if codec.last_error else ""
