"""``BleLink`` through an ESPHome Bluetooth proxy, so every BLE driver works over the network.

connect = wait for the proxy's API session, wait until it hears the device (its address type
comes from the advertisement), check for a free connection slot, ``bluetooth_device_connect``
(v3, without cache: the proxy keeps no service table), then service discovery. Notifications
need both the proxy's notify registration and our CCCD write: ESPHome's v3 connections leave
the descriptor to the client. A GATT status (133 and friends), a full proxy or a lost API
session fail the connect or mark the link ``lost``; ``BleSource`` owns the retry policy.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from batmux.errors import LinkError, LinkTimeout
from batmux.links.ble import NotifyCallback, uuid16
from batmux.links.esphome_proxy import EspHomeProxy, NoFreeSlot
from batmux.links.link_lost import LinkLost

log = logging.getLogger(__name__)

PROP_WRITE, PROP_NOTIFY, PROP_INDICATE = 0x08, 0x10, 0x20
CCCD = uuid16(0x2902)


class GattStatusError(LinkError):
    """The proxy answered with a GATT status (133 = the ESP32 stack's catch-all error)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Char:
    handle: int
    properties: int
    cccd: int | None


def _full_uuid(uuid: str) -> str:
    text = uuid.strip().lower()
    return uuid16(int(text, 16)) if len(text) == 4 else text


class ProxyLink:
    """A BLE connection to one peripheral through one ESPHome proxy."""

    def __init__(self, proxy: EspHomeProxy, address: str, name: str = "") -> None:
        self.proxy = proxy
        self.address = address
        self.name = name or address
        self.path = f"proxy:{proxy.name}"
        self.lost = LinkLost()
        self.mtu = 0
        self._mac: int | None = None
        self._chars: dict[str, _Char] = {}
        self._unsubscribe: list[object] = []
        self._connected = False
        self._connect_rssi: int | None = None

    @property
    def rssi(self) -> int | None:
        """The latest RSSI the proxy heard; while connected (most BMSes stop advertising
        then) the one the connection was made at."""
        heard = self.proxy.lookup(self.address)
        if heard is not None and self.proxy.online:
            return heard.rssi
        return self._connect_rssi if self._connected else None

    @property
    def is_connected(self) -> bool:
        return self._connected

    def _mark_lost(self) -> None:
        if self._connected:
            self._connected = False
            self.lost.set()

    def _on_state(self, connected: bool, mtu: int, error: int) -> None:
        self._state = (connected, mtu, error)
        if not connected:
            self._mark_lost()

    async def connect(self, timeout: float = 20.0) -> None:
        from aioesphomeapi.core import APIConnectionError, TimeoutAPIError

        await self.disconnect()
        deadline = asyncio.get_running_loop().time() + timeout

        def left() -> float:
            return max(0.1, deadline - asyncio.get_running_loop().time())

        client = await self.proxy.wait_online(left())
        heard = await self.proxy.find(self.address, left())
        if self.proxy.free == 0:
            raise NoFreeSlot(
                f"proxy {self.proxy.name}: no free connection slot ({self.proxy.limit} in use)"
            )
        mac = int(heard.mac.replace(":", ""), 16)
        self._state = (False, 0, 0)
        try:
            unsubscribe = await client.bluetooth_device_connect(
                mac,
                self._on_state,
                timeout=left(),
                feature_flags=self.proxy.features,
                has_cache=False,
                address_type=heard.address_type,
            )
        except TimeoutAPIError as exc:
            raise LinkTimeout(
                f"connect to {heard.mac} via proxy {self.proxy.name} timed out"
            ) from exc
        except (APIConnectionError, ValueError) as exc:
            raise LinkError(f"connect to {heard.mac} via proxy {self.proxy.name}: {exc}") from exc
        connected, mtu, error = self._state
        if not connected:
            unsubscribe()
            if error == 0 and not self.proxy.free:
                raise NoFreeSlot(f"proxy {self.proxy.name} refused: no free connection slot")
            raise GattStatusError(
                f"connect to {heard.mac} via proxy {self.proxy.name} failed: GATT status {error}",
                error,
            )
        self._mac, self.mtu, self._connect_rssi = mac, mtu, heard.rssi
        self._unsubscribe = [unsubscribe]
        self._connected = True
        self.lost.clear()
        self.proxy.on_lost.add(self._mark_lost)
        try:
            services = await client.bluetooth_gatt_get_services(mac)
        except APIConnectionError as exc:
            await self.disconnect()
            raise LinkError(f"service discovery on {heard.mac} failed: {exc}") from exc
        self._chars = {}
        for service in services.services:
            for char in service.characteristics:
                cccd = next((d.handle for d in char.descriptors if d.uuid.lower() == CCCD), None)
                self._chars[char.uuid.lower()] = _Char(char.handle, char.properties, cccd)

    async def disconnect(self) -> None:
        self.proxy.on_lost.discard(self._mark_lost)
        was_up, self._connected = self._connected, False
        for unsubscribe in self._unsubscribe:
            unsubscribe()  # type: ignore[operator]
        self._unsubscribe = []
        client, mac = self.proxy.client, self._mac
        if was_up and client is not None and mac is not None:
            from aioesphomeapi.core import APIConnectionError

            try:
                client.bluetooth_gatt_stop_notify_for_address(mac)
                await client.bluetooth_device_disconnect(mac, timeout=5.0)
            except (APIConnectionError, TimeoutError) as exc:  # gone already is fine
                log.debug("%s: disconnect via proxy %s: %s", self.name, self.proxy.name, exc)

    def _char(self, char_uuid: str) -> tuple[int, _Char]:
        if not self._connected or self._mac is None or self.proxy.client is None:
            raise LinkError(f"{self.address} is not connected")
        char = self._chars.get(_full_uuid(char_uuid))
        if char is None:
            raise LinkError(f"{self.address} has no characteristic {char_uuid}")
        return self._mac, char

    async def _call(self, what: str, coro: object) -> object:
        from aioesphomeapi.core import (
            APIConnectionError,
            BluetoothConnectionDroppedError,
            BluetoothGATTAPIError,
            TimeoutAPIError,
        )

        try:
            return await coro  # type: ignore[misc]
        except TimeoutAPIError as exc:
            raise LinkTimeout(f"{what} via proxy {self.proxy.name}: timed out") from exc
        except BluetoothGATTAPIError as exc:
            raise GattStatusError(f"{what}: {exc}", exc.error.error) from exc
        except (BluetoothConnectionDroppedError, APIConnectionError) as exc:
            self._mark_lost()
            raise LinkError(f"{what} via proxy {self.proxy.name}: {exc}") from exc

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        mac, char = self._char(char_uuid)
        client = self.proxy.client
        assert client is not None
        _stop, remove = await self._call(  # type: ignore[misc]
            f"start_notify {char_uuid}",
            client.bluetooth_gatt_start_notify(
                mac, char.handle, lambda _h, data: callback(bytes(data))
            ),
        )
        self._unsubscribe.append(remove)
        if char.cccd is not None:
            value = b"\x01\x00" if char.properties & PROP_NOTIFY else b"\x02\x00"
            await self._call(
                f"enable notifications on {char_uuid}",
                client.bluetooth_gatt_write_descriptor(mac, char.cccd, value),
            )

    async def stop_notify(self, char_uuid: str) -> None:
        mac, char = self._char(char_uuid)
        assert self.proxy.client is not None
        self.proxy.client.bluetooth_gatt_stop_notify(mac, char.handle)

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        mac, char = self._char(char_uuid)
        if response is None:
            response = bool(char.properties & PROP_WRITE)
        assert self.proxy.client is not None
        await self._call(
            f"write {char_uuid}",
            self.proxy.client.bluetooth_gatt_write(mac, char.handle, data, response),
        )

    async def read(self, char_uuid: str) -> bytes:
        mac, char = self._char(char_uuid)
        assert self.proxy.client is not None
        data = await self._call(
            f"read {char_uuid}", self.proxy.client.bluetooth_gatt_read(mac, char.handle)
        )
        return bytes(data)  # type: ignore[arg-type]
