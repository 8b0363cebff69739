"""Victron SmartShunt "Instant Readout": a push ``Source`` fed with advertisement payloads.

No connection and no PIN: the shunt broadcasts an AES-encrypted record about once a second.
Whoever scans (a bleak ``BleakScanner`` or the runtime's shared scanner) hands every
manufacturer-data payload of company 0x02E1 to ``feed_advertisement``; ``sample()`` returns the
newest decoded sample while it is fresher than ``max_age_s`` and raises ``NoData`` otherwise.
A wrong key is counted (``health.corrupt_frames`` and ``health.errors``) and never yields a sample.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from batmux.devices.health import Health
from batmux.errors import ControlRefused, NoData, ProtocolError
from batmux.model.sample import BatterySample
from batmux.protocols import victron_smartshunt as vs

log = logging.getLogger(__name__)


def parse_key(key: bytes | str) -> bytes:
    """The 16-byte advertisement key from bytes or VictronConnect's 32 hex digits."""
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError:
            raise ValueError("advertisement key must be 32 hex digits") from None
    if len(key) != 16:
        raise ValueError(f"advertisement key must be 16 bytes (32 hex digits), got {len(key)}")
    return key


class VictronAdvertisementSource:
    """Latest Instant Readout sample of one SmartShunt."""

    def __init__(
        self,
        name: str,
        key: bytes | str,
        address: str | None = None,
        max_age_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.key = parse_key(key)
        self.address = address.upper() if address else None
        self.max_age_s = max_age_s
        self.health = Health()
        self.rssi: int | None = None
        self._clock = clock
        self._wall_clock = wall_clock
        self._latest: BatterySample | None = None
        self._latest_at = 0.0
        self._last_payload = b""
        self.last_error: ProtocolError | None = None

    def feed_advertisement(self, payload: bytes, rssi: int | None = None) -> BatterySample | None:
        """Decode one payload (company id stripped); returns the sample or None if rejected."""
        payload = bytes(payload)
        now = self._clock()
        if payload == self._last_payload and self._latest is not None:
            self._latest_at = now  # the shunt repeats each record several times
            self.rssi = rssi
            return self._latest
        try:
            sample = vs.decode_advertisement(payload, self.key, self._wall_clock())
        except ProtocolError as exc:
            self.last_error = exc
            self.health.corrupt_frames += 1
            self.health.error(f"{type(exc).__name__}: {exc}")
            log.debug("%s: advertisement rejected: %s (%s)", self.name, exc, payload.hex())
            return None
        self._latest, self._latest_at, self._last_payload = sample, now, payload
        self.rssi = rssi
        return sample

    def on_bleak_advertisement(self, device: Any, advertisement_data: Any) -> None:
        """A bleak detection callback ``(BLEDevice, AdvertisementData)``."""
        if self.address and str(getattr(device, "address", "")).upper() != self.address:
            return
        payload = advertisement_data.manufacturer_data.get(vs.COMPANY_ID)
        if payload is not None:
            self.feed_advertisement(payload, getattr(advertisement_data, "rssi", None))

    async def sample(self) -> BatterySample:
        if self._latest is None or self._clock() - self._latest_at > self.max_age_s:
            detail = f"; last error: {self.last_error}" if self.last_error else ""
            raise NoData(
                f"{self.name}: no Instant Readout advertisement in the last "
                f"{self.max_age_s:.0f} s{detail}"
            )
        self.health.samples += 1
        return self._latest

    async def close(self) -> None:
        self._latest = None

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused("a SmartShunt advertisement has no switches")
