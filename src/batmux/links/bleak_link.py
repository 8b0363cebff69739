"""BleLink over bleak + bleak-retry-connector; bleak's exceptions are translated here, once."""

from __future__ import annotations

import asyncio
import logging
import re

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import establish_connection

from batmux.errors import DeviceNotFound, LinkError, LinkTimeout
from batmux.links.ble import NotifyCallback

log = logging.getLogger(__name__)

_MAC = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")


class BleakLink:
    """A BLE connection to a MAC address or an advertised name, on an optional adapter."""

    def __init__(self, address: str, adapter: str | None = None, name: str = "") -> None:
        self.address = address
        self.adapter = adapter
        self.name = name or address
        self._client: BleakClient | None = None

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _find(self, timeout: float) -> BLEDevice:
        kwargs = {"adapter": self.adapter} if self.adapter else {}
        try:
            if _MAC.match(self.address):
                device = await BleakScanner.find_device_by_address(
                    self.address, timeout=timeout, **kwargs
                )
            else:
                device = await BleakScanner.find_device_by_name(
                    self.address, timeout=timeout, **kwargs
                )
        except BleakError as exc:
            raise LinkError(f"scan failed: {exc}") from exc
        if device is None:
            raise DeviceNotFound(f"{self.address} not found within {timeout:.0f} s")
        return device

    async def connect(self, timeout: float = 20.0) -> None:
        device = await self._find(timeout)
        try:
            async with asyncio.timeout(timeout * 2):
                self._client = await establish_connection(
                    BleakClient, device, self.name, max_attempts=2
                )
        except TimeoutError as exc:
            raise LinkTimeout(f"connect to {self.address} timed out") from exc
        except BleakDeviceNotFoundError as exc:
            raise DeviceNotFound(str(exc)) from exc
        except BleakError as exc:
            raise LinkError(f"connect failed: {exc}") from exc

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except BleakError as exc:  # already gone is fine
                log.debug("%s: disconnect: %s", self.name, exc)

    def _require(self) -> BleakClient:
        if self._client is None or not self._client.is_connected:
            raise LinkError(f"{self.address} is not connected")
        return self._client

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        try:
            await self._require().start_notify(char_uuid, lambda _c, data: callback(bytes(data)))
        except BleakError as exc:
            raise LinkError(f"start_notify {char_uuid}: {exc}") from exc

    async def stop_notify(self, char_uuid: str) -> None:
        try:
            await self._require().stop_notify(char_uuid)
        except BleakError as exc:
            raise LinkError(f"stop_notify {char_uuid}: {exc}") from exc

    async def write(self, char_uuid: str, data: bytes, response: bool = False) -> None:
        try:
            await self._require().write_gatt_char(char_uuid, data, response=response)
        except BleakError as exc:
            raise LinkError(f"write {char_uuid}: {exc}") from exc

    async def read(self, char_uuid: str) -> bytes:
        try:
            return bytes(await self._require().read_gatt_char(char_uuid))
        except BleakError as exc:
            raise LinkError(f"read {char_uuid}: {exc}") from exc
