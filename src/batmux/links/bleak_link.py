"""BleLink over bleak + bleak-retry-connector; bleak's exceptions are translated here, once.

Three things real BlueZ needs that a naive bleak client gets wrong:

* One discovery session per D-Bus client and adapter: bluetoothd answers a second
  StartDiscovery from the same connection with ``InProgress``. All links of the process share
  bleak's one bus connection, so several batteries reconnecting at once would trip over each
  other. ``SharedScanner`` runs one scan per adapter for every link that is looking.
* A device object can be stale (still listed, no longer in range): Connect then hangs until its
  timeout. After a failure the next attempt therefore scans instead of trusting the object.
* A dropped link must be noticed at once, not at the next read timeout: ``lost`` is set by
  bleak's disconnected callback and ``BleSource`` races every read against it.

With a ``pin`` the link bonds once, right after its first connect to an unpaired device
(``bluez_agent.pair_with_pin``: bleak's own ``pair()`` cannot supply a PIN on BlueZ).

Notifications and write commands go through BlueZ's acquired sockets when the characteristic
allows it (``bluez_acquired``; ``acquire=False`` or ``ble: {acquire: false}`` turns that off):
far less CPU per sample than D-Bus messages. Any refusal falls back to bleak's StartNotify and
WriteValue; BlueZ closing a socket means the link is gone, reported like bleak's disconnect.
Some peripherals lose notifications with AcquireNotify in the field (bleak keeps StartNotify as
its default for that reason): a link whose acquired notifications never delivered a packet
uses StartNotify from its next connection on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import ClassVar

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDeviceNotFoundError
from bleak_retry_connector import (
    BleakNotFoundError,
    establish_connection,
    get_device,
    get_device_by_adapter,
)

from batmux.errors import DeviceNotFound, LinkError, LinkTimeout
from batmux.links.ble import NotifyCallback, PairingFailed
from batmux.links.bluez_acquired import LinkSockets
from batmux.links.bluez_status import BUS_ERRORS, check_bluez, explain, translate
from batmux.links.link_lost import LinkLost

log = logging.getLogger(__name__)

MAC = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")

Match = Callable[[BLEDevice, AdvertisementData], bool]


class SharedScanner:
    """One BlueZ discovery session per adapter, shared by every link that is looking."""

    _instances: ClassVar[dict[tuple[int, str | None], SharedScanner]] = {}

    def __init__(self, adapter: str | None) -> None:
        self.adapter = adapter
        self._waiters: list[tuple[Match, asyncio.Future[BLEDevice]]] = []
        self._scanner: BleakScanner | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def get(cls, adapter: str | None) -> SharedScanner:
        """The scanner of ``adapter`` in the running event loop."""
        key = (id(asyncio.get_running_loop()), adapter)
        if key not in cls._instances:
            cls._instances = {k: v for k, v in cls._instances.items() if k[0] == key[0]}
            cls._instances[key] = cls(adapter)
        return cls._instances[key]

    async def find(self, match: Match, timeout: float) -> BLEDevice | None:
        future: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()
        waiter = (match, future)
        self._waiters.append(waiter)
        try:
            await self._start()
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._waiters.remove(waiter)
            if not self._waiters:
                await self._stop()

    def _on_advertisement(self, device: BLEDevice, adv: AdvertisementData) -> None:
        for match, future in self._waiters:
            if not future.done() and match(device, adv):
                future.set_result(device)

    async def _start(self) -> None:
        async with self._lock:
            if self._scanner is not None:
                return
            bluez = {"adapter": self.adapter} if self.adapter else {}
            scanner = BleakScanner(self._on_advertisement, bluez=bluez)  # type: ignore[arg-type]
            try:
                await scanner.start()
            except BUS_ERRORS as exc:
                where = self.adapter or "default adapter"
                raise translate(exc, f"scan on {where} failed", self.adapter) from exc
            self._scanner = scanner

    async def _stop(self) -> None:
        async with self._lock:
            scanner, self._scanner = self._scanner, None
            if scanner is None or self._waiters:
                self._scanner = scanner
                return
            try:
                await scanner.stop()
            except BUS_ERRORS as exc:  # the adapter, bluetoothd or the bus may be gone
                log.debug("stop scan on %s: %s", self.adapter, exc)


class BleakLink:
    """A BLE connection to a MAC address or an advertised name, on an optional adapter."""

    def __init__(
        self,
        address: str,
        adapter: str | None = None,
        name: str = "",
        pin: str | None = None,
        pairing: bool = True,
        acquire: bool = True,
    ) -> None:
        self.address = address
        self.adapter = adapter
        self.name = name or address
        self.pin = pin  # bond with this PIN when BlueZ has no bond yet
        self.pairing = pairing  # False: never pair (the bond is made outside batmux)
        self.advertised_name: str | None = None  # what the device calls itself, once found
        self.pairings = 0  # bonds made by this link
        self._device: BLEDevice | None = None
        self.by_mac = bool(MAC.match(address))
        self.resolved_mac: str | None = address.upper() if self.by_mac else None
        self.lost = LinkLost()  # set when the link drops without our asking
        self._client: BleakClient | None = None
        self._trust_known = True  # use BlueZ's device object without a scan (until a failure)
        self.power_cycle_off_s = 2.0
        # notifications and write commands through BlueZ's sockets (bluez_acquired.py)
        self.sockets = LinkSockets(self.name, self._mark_lost, enabled=acquire)

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def _matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        if self.by_mac:
            return device.address.upper() == self.resolved_mac
        return adv.local_name == self.address or device.name == self.address

    async def _find(self, timeout: float) -> BLEDevice:
        if self._trust_known and self.resolved_mac:
            if self.adapter:
                known = await get_device_by_adapter(self.resolved_mac, self.adapter)
            else:
                known = await get_device(self.resolved_mac)
            if known is not None:
                return self._found(known)
        device = await SharedScanner.get(self.adapter).find(self._matches, timeout)
        if device is None:
            where = f" on {self.adapter}" if self.adapter else ""
            raise DeviceNotFound(f"{self.address} not seen{where} within {timeout:.0f} s")
        self.resolved_mac = device.address.upper()
        return self._found(device)

    def _found(self, device: BLEDevice) -> BLEDevice:
        self._device = device
        if device.name:
            self.advertised_name = device.name
        return device

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is self._client:
            self._mark_lost()

    async def connect(self, timeout: float = 20.0) -> None:
        await self.disconnect()
        try:
            await check_bluez(self.adapter)
            device = await self._find(timeout)
            async with asyncio.timeout(timeout):
                client = await establish_connection(
                    BleakClient,
                    device,
                    self.name,
                    disconnected_callback=self._on_disconnected,
                    max_attempts=2,
                )
        except TimeoutError as exc:
            self._trust_known = False
            raise LinkTimeout(f"connect to {self.address} timed out after {timeout:.0f} s") from exc
        except (BleakDeviceNotFoundError, BleakNotFoundError) as exc:
            self._trust_known = False
            raise DeviceNotFound(str(exc)) from exc
        except BUS_ERRORS as exc:
            self._trust_known = False
            raise translate(exc, "connect failed", self.adapter) from exc
        except LinkError:
            self._trust_known = False
            raise
        self._client = client
        self.lost.clear()
        self._trust_known = True
        if self.pin is not None:
            try:
                await self.pair(self.pin, timeout)  # bounded like the connect
            except PairingFailed:
                await self.disconnect()
                raise

    def _device_path(self) -> str:
        details = self._device.details if self._device is not None else None
        if isinstance(details, dict) and isinstance(details.get("path"), str):
            return details["path"]
        mac = (self.resolved_mac or self.address).upper().replace(":", "_")
        return f"/org/bluez/{self.adapter or 'hci0'}/dev_{mac}"

    async def pair(self, pin: str, timeout: float = 30.0) -> None:
        """Bond with ``pin`` unless BlueZ has a bond already (raises ``PairingFailed``)."""
        from batmux.links.bluez_agent import pair_with_pin

        self._require()
        if not self.pairing:
            log.debug("%s: pairing is off (ble.pair: false); relying on an OS bond", self.name)
            return
        if await pair_with_pin(self._device_path(), pin, timeout):
            self.pairings += 1
            log.info("%s: paired with the configured pin", self.name)

    async def disconnect(self) -> None:
        self.sockets.reset()
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(10):
                    await client.disconnect()
            except (*BUS_ERRORS, TimeoutError) as exc:  # already gone is fine
                log.debug("%s: disconnect: %s", self.name, exc)

    def _require(self) -> BleakClient:
        if self._client is None or not self._client.is_connected:
            raise LinkError(f"{self.address} is not connected")
        return self._client

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        client = self._require()
        if await self.sockets.start_notify(client, char_uuid, callback):
            return
        try:
            await client.start_notify(char_uuid, lambda _c, data: callback(bytes(data)))
        except BUS_ERRORS as exc:
            raise self._lost_to(exc, f"start_notify {char_uuid}") from exc

    async def stop_notify(self, char_uuid: str) -> None:
        client = self._require()
        if self.sockets.stop_notify(client, char_uuid):
            return
        try:
            await client.stop_notify(char_uuid)
        except BUS_ERRORS as exc:
            raise self._lost_to(exc, f"stop_notify {char_uuid}") from exc

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        # None: bleak picks from the characteristic's properties (bluetoothd refuses a write
        # command to a characteristic without write-without-response: NotSupported)
        client = self._require()
        if await self.sockets.write(client, char_uuid, data, response):
            return
        try:
            await client.write_gatt_char(char_uuid, data, response=response)
        except BUS_ERRORS as exc:
            raise self._lost_to(exc, f"write {char_uuid}") from exc

    def _mark_lost(self) -> None:
        """The connection dropped: bleak's disconnected callback, BlueZ closing an acquired
        socket, or BlueZ itself gone."""
        self.lost.set()

    async def read(self, char_uuid: str) -> bytes:
        try:
            return bytes(await self._require().read_gatt_char(char_uuid))
        except BUS_ERRORS as exc:
            raise self._lost_to(exc, f"read {char_uuid}") from exc

    def _lost_to(self, exc: BaseException, what: str) -> LinkError:
        """The error for a failed call on a connection; one that means BlueZ itself went away
        also marks the connection lost (bleak would keep calling it connected)."""
        if isinstance(exc, TimeoutError):
            return LinkTimeout(f"{what}: timed out")
        unavailable = explain(exc, self.adapter)
        if unavailable is None:
            return LinkError(f"{what}: {exc}")
        self._mark_lost()
        return unavailable

    async def power_cycle(self) -> None:
        """Turn this link's adapter off and on again (best effort, see docs/ble-link.md)."""
        await self.disconnect()
        await power_cycle_adapter(self.adapter or "hci0", self.power_cycle_off_s)


async def power_cycle_adapter(adapter: str, off_s: float = 2.0) -> None:
    """Set ``org.bluez.Adapter1.Powered`` false, wait, true. Drops every link on the adapter."""
    from dbus_fast import BusType, Message, MessageType, Variant
    from dbus_fast.aio import MessageBus

    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except BUS_ERRORS as exc:
        raise translate(exc, f"power cycle {adapter}", adapter) from exc
    try:
        for powered in (False, True):
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path=f"/org/bluez/{adapter}",
                    interface="org.freedesktop.DBus.Properties",
                    member="Set",
                    signature="ssv",
                    body=["org.bluez.Adapter1", "Powered", Variant("b", powered)],
                )
            )
            if reply is None or reply.message_type == MessageType.ERROR:
                detail = reply.body if reply is not None else "no reply"
                raise LinkError(f"power {'on' if powered else 'off'} {adapter}: {detail}")
            if not powered:
                await asyncio.sleep(off_s)
    finally:
        with contextlib.suppress(Exception):
            bus.disconnect()
