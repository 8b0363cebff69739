"""A BlueZ look-alike on D-Bus that serves ``SimDevice`` objects to the real bleak stack.

It owns ``org.bluez`` on a (private) bus and exports what bleak's BlueZ backend reads:
``/org/bluez/hciN`` (Adapter1), ``/org/bluez/hciN/dev_XX_..`` (Device1) and, while connected,
``.../serviceXXXX`` (GattService1) and ``.../serviceXXXX/charYYYY`` (GattCharacteristic1).
dbus-fast answers ``ObjectManager.GetManagedObjects`` and sends InterfacesAdded/Removed on
export/unexport. Notifications are PropertiesChanged of a characteristic's ``Value``, one per
MTU-sized chunk, exactly how bluetoothd forwards them after StartNotify.

Behaviour copied from bluetoothd because bleak and bleak-retry-connector depend on it:
devices appear (InterfacesAdded) only once an adapter discovers them; a discovering adapter
sends an RSSI PropertiesChanged per advertisement; one D-Bus client may hold only one discovery
session per adapter (a second StartDiscovery gets ``org.bluez.Error.InProgress``); calls to
objects that do not exist get ``UnknownObject``; Connect emits ``Connected`` then the GATT
objects then ``ServicesResolved``.

Faults a test (or a demo) can cause at any moment: ``vanish`` (the device goes away; its object
is removed like bluetoothd does after the discovery cache expires, or kept when it merely went
out of range), ``reappear``, ``drop`` (link lost, ``Connected=false``), ``drop_after_chunks``
(lost in the middle of a frame), ``mute`` (connected but never answers), ``chunk_gap_s``
(slow notifications) and ``corrupt_rate``. Pairing with a PIN through a registered agent:
``fake_bluez_pairing``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
)
from dbus_fast.constants import ErrorType, PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from batmux.errors import BatmuxError
from batmux.links.ble import uuid16
from batmux.sim.fake_bluez_pairing import MANAGER_PATH, FakePairing
from batmux.sim.peripheral import SimDevice

log = logging.getLogger(__name__)

# D-Bus signatures of the property/method types dbus-fast reads from the annotations
StrList = Annotated[list[str], DBusSignature("as")]
PathList = Annotated[list[str], DBusSignature("ao")]
ManufacturerMap = Annotated[dict[int, Variant], DBusSignature("a{qv}")]

BLUEZ = "org.bluez"
ERR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERR_NOT_READY = "org.bluez.Error.NotReady"
ERR_FAILED = "org.bluez.Error.Failed"
ERR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"


def device_path(adapter: str, address: str) -> str:
    return f"/org/bluez/{adapter}/dev_{address.upper().replace(':', '_')}"


@dataclass
class FakeDevice:
    """One simulated peripheral as bluetoothd sees it, plus the faults to inject."""

    sim: SimDevice
    address: str
    name: str
    adapter: str = "hci0"
    service_uuid: str = uuid16(0xFFE0)
    rssi: int = -60
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()  # advertised; defaults to (service_uuid,)
    mtu: int = 23  # ATT MTU; notifications carry mtu - 3 bytes
    connect_latency_s: float = 0.02
    connect_timeout_s: float = 2.0  # how long Connect hangs for a device that is out of range
    latency_s: float = 0.01  # write → first notification
    chunk_gap_s: float = 0.0
    corrupt_rate: float = 0.0
    mute: bool = False
    drop_after_chunks: int | None = None  # lose the link after this many more notifications
    seed: int = 0
    # pairing (fake_bluez_pairing): a device with a pin refuses GATT access until paired
    pin: str | None = None
    pairing: str = "passkey"  # the agent question: "passkey" (LE) or "pincode" (legacy)
    paired: bool = False
    pair_attempts: int = 0
    # state (read by tests)
    in_range: bool = True
    connected: bool = False
    connects: int = 0
    writes: list[bytes] = field(default_factory=list)
    notifications: int = 0

    @property
    def path(self) -> str:
        return device_path(self.adapter, self.address)

    @property
    def payload(self) -> int:
        return self.mtu - 3


# -- D-Bus interfaces ---------------------------------------------------------------------------


class Adapter1(ServiceInterface):
    def __init__(self, bluez: FakeBlueZ, name: str, index: int) -> None:
        super().__init__("org.bluez.Adapter1")
        self._bluez = bluez
        self.hci = name
        self.address = f"00:1A:7D:DA:71:{index:02X}"
        self.powered = True
        self.discovering = False
        self.power_cycles = 0

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return f"batmux-fake-{self.hci}"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return f"batmux-fake-{self.hci}"

    @dbus_property(access=PropertyAccess.READWRITE)
    def Powered(self) -> DBusBool:
        return self.powered

    @Powered.setter
    def Powered(self, value: DBusBool):
        self._bluez._set_powered(self, bool(value))

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> StrList:
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> StrList:
        return []

    # StartDiscovery/StopDiscovery are answered in FakeBlueZ._on_message (they need the sender).

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict):
        return None

    @dbus_method()
    def GetDiscoveryFilters(self) -> StrList:
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable"]

    @dbus_method()
    async def RemoveDevice(self, device: DBusObjectPath):
        await self._bluez._remove_object(device)


class Device1(ServiceInterface):
    def __init__(self, bluez: FakeBlueZ, device: FakeDevice) -> None:
        super().__init__("org.bluez.Device1")
        self._bluez = bluez
        self.d = device
        self.services_resolved = False

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self.d.address.upper()

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.d.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self.d.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return f"/org/bluez/{self.d.adapter}"

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self.d.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return self.d.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self.d.paired

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self.d.rssi

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> ManufacturerMap:
        return {k: Variant("ay", bytes(v)) for k, v in self.d.manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:
        return {}

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> StrList:
        return list(self.d.service_uuids or (self.d.service_uuid,))

    @dbus_method()
    async def Connect(self):
        await self._bluez._connect(self)

    @dbus_method()
    async def Disconnect(self):
        await self._bluez._drop(self.d, "local disconnect")

    @dbus_method()
    def Pair(self):
        return None  # answered in FakeBlueZ._on_message: it needs the caller's agent


class GattService1(ServiceInterface):
    def __init__(self, device: FakeDevice, handle: int) -> None:
        super().__init__("org.bluez.GattService1")
        self.d = device
        self.handle = handle

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.d.service_uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self.d.path

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self.handle

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> PathList:
        return []


class GattCharacteristic1(ServiceInterface):
    def __init__(
        self,
        bluez: FakeBlueZ,
        device: FakeDevice,
        uuid: str,
        service_path: str,
        handle: int,
        flags: list[str],
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._bluez = bluez
        self.d = device
        self.uuid = uuid
        self.service_path = service_path
        self.handle = handle
        self.flags = flags
        self.value = b""
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> StrList:
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return self.d.mtu

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self.handle

    @dbus_method()
    async def ReadValue(self, options: DBusDict) -> DBusBytes:
        self._bluez._require_connected(self.d)
        await asyncio.sleep(self.d.latency_s)
        try:
            self.value = bytes(self.d.sim.handle_read(self.uuid))
        except BatmuxError as exc:
            raise DBusError(ERR_NOT_PERMITTED, "Read not permitted") from exc
        return self.value

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict):
        self._bluez._require_connected(self.d)
        self._bluez._write(self.d, self.uuid, bytes(value))

    @dbus_method()
    def StartNotify(self):
        self._bluez._require_connected(self.d)
        if not self.notifying:
            self.notifying = True
            self.emit_properties_changed({"Notifying": True})
        self._bluez._notify_started(self.d)

    @dbus_method()
    def StopNotify(self):
        if self.notifying:
            self.notifying = False
            self.emit_properties_changed({"Notifying": False})


# -- the service --------------------------------------------------------------------------------


@dataclass
class _Live:
    """The exported objects of one device."""

    device: Device1 | None = None
    gatt: list[tuple[str, ServiceInterface]] = field(default_factory=list)
    chars: dict[str, GattCharacteristic1] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    streaming: bool = False


class FakeBlueZ:
    """Serves ``FakeDevice``s as ``org.bluez`` on the bus at ``bus_address``."""

    def __init__(
        self,
        bus_address: str | None = None,
        adapters: tuple[str, ...] = ("hci0",),
        advertise_interval_s: float = 0.05,
    ) -> None:
        self.bus_address = bus_address
        self.advertise_interval_s = advertise_interval_s
        self.adapters = {name: Adapter1(self, name, i) for i, name in enumerate(adapters)}
        self.devices: dict[str, FakeDevice] = {}
        self._live: dict[str, _Live] = {}
        self._sessions: dict[str, set[str]] = {name: set() for name in adapters}
        self._advertisers: dict[str, asyncio.Task[None]] = {}
        self._exported: set[str] = set()
        self._bus: MessageBus | None = None
        self._rng = random.Random(0)
        self.pairing = FakePairing(self)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self.bus_address:
            bus = MessageBus(bus_address=self.bus_address)
        else:
            bus = MessageBus(bus_type=BusType.SYSTEM)
        await bus.connect()
        self._bus = bus
        bus.add_message_handler(self._on_message)
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"],
            )
        )
        for name, adapter in self.adapters.items():
            self._export(f"/org/bluez/{name}", adapter)
        self._export(MANAGER_PATH, self.pairing.manager)
        await bus.request_name(BLUEZ)

    async def stop(self) -> None:
        for task in self._advertisers.values():
            task.cancel()
        for live in self._live.values():
            for task in live.tasks:
                task.cancel()
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await self._bus.wait_for_disconnect()
            self._bus = None

    async def __aenter__(self) -> FakeBlueZ:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the test/demo API ------------------------------------------------------------------
    def add_device(self, sim: SimDevice, address: str, name: str, **options: object) -> FakeDevice:
        """Make a simulated device advertise; it appears in BlueZ once an adapter discovers."""
        device = FakeDevice(sim=sim, address=address.upper(), name=name, **options)  # type: ignore[arg-type]
        if device.adapter not in self.adapters:
            raise ValueError(f"no adapter {device.adapter!r}; have {sorted(self.adapters)}")
        self.devices[device.path] = device
        self._live[device.path] = _Live()
        return device

    def device(self, address: str, adapter: str = "hci0") -> FakeDevice:
        return self.devices[device_path(adapter, address)]

    async def vanish(self, address: str, adapter: str = "hci0", keep_object: bool = False) -> None:
        """The device stops advertising and drops its link. Without ``keep_object`` its D-Bus
        object is removed (InterfacesRemoved); with it, BlueZ still lists it and Connect hangs
        until ``connect_timeout_s`` like a real out-of-range device."""
        device = self.device(address, adapter)
        device.in_range = False
        await self._drop(device, "device vanished")
        if not keep_object:
            self._unexport_device(device)

    def reappear(self, address: str, adapter: str = "hci0") -> None:
        """Back in range: advertises again (and is re-added at the next discovery)."""
        self.device(address, adapter).in_range = True

    async def drop(self, address: str, adapter: str = "hci0") -> None:
        """The radio link is lost (supervision timeout): ``Connected`` goes false."""
        await self._drop(self.device(address, adapter), "link lost")

    def power_cycles(self, adapter: str = "hci0") -> int:
        return self.adapters[adapter].power_cycles

    def discovering(self, adapter: str = "hci0") -> bool:
        return bool(self._sessions[adapter])

    # -- exports ----------------------------------------------------------------------------
    def _export(self, path: str, interface: ServiceInterface) -> None:
        assert self._bus is not None
        self._bus.export(path, interface)
        self._exported.add(path)

    def _unexport(self, path: str) -> None:
        if self._bus is not None and path in self._exported:
            self._bus.unexport(path)
        self._exported.discard(path)

    def _unexport_device(self, device: FakeDevice) -> None:
        live = self._live[device.path]
        if live.device is not None:
            self._unexport(device.path)
            live.device = None

    # -- message routing --------------------------------------------------------------------
    def _on_message(self, msg: Message) -> Message | bool | None:
        if msg.message_type == MessageType.SIGNAL:
            if msg.member == "NameOwnerChanged" and msg.body and not msg.body[2]:
                self._client_gone(msg.body[0])
            return None
        if msg.message_type != MessageType.METHOD_CALL or not msg.path:
            return None
        if msg.path.startswith("/org/bluez") and msg.path not in self._exported:
            return Message.new_error(
                msg,
                ErrorType.UNKNOWN_OBJECT.value,
                f'Method "{msg.member}" with signature "{msg.signature}"'
                f' on interface "{msg.interface}" doesn\'t exist',
            )
        if msg.interface == "org.bluez.Adapter1" and msg.member in (
            "StartDiscovery",
            "StopDiscovery",
        ):
            adapter = msg.path.rsplit("/", 1)[-1]
            if adapter not in self.adapters:
                return None
            if msg.member == "StartDiscovery":
                return self._start_discovery(msg, adapter)
            return self._stop_discovery(msg, adapter)
        return self.pairing.on_message(msg)

    def _start_discovery(self, msg: Message, adapter: str) -> Message:
        if not self.adapters[adapter].powered:
            return Message.new_error(msg, ERR_NOT_READY, "Resource Not Ready")
        sessions = self._sessions[adapter]
        if msg.sender in sessions:
            return Message.new_error(msg, ERR_IN_PROGRESS, "Operation already in progress")
        sessions.add(msg.sender or "")
        self._update_discovering(adapter)
        return Message.new_method_return(msg)

    def _stop_discovery(self, msg: Message, adapter: str) -> Message:
        sessions = self._sessions[adapter]
        if msg.sender not in sessions:
            return Message.new_error(msg, ERR_FAILED, "No discovery started")
        sessions.discard(msg.sender or "")
        self._update_discovering(adapter)
        return Message.new_method_return(msg)

    def _client_gone(self, name: str) -> None:
        self.pairing.client_gone(name)
        for adapter, sessions in self._sessions.items():
            if name in sessions:
                sessions.discard(name)
                self._update_discovering(adapter)

    def _update_discovering(self, adapter_name: str) -> None:
        adapter = self.adapters[adapter_name]
        active = bool(self._sessions[adapter_name])
        if active != adapter.discovering:
            adapter.discovering = active
            adapter.emit_properties_changed({"Discovering": active})
        task = self._advertisers.get(adapter_name)
        if active and (task is None or task.done()):
            self._advertisers[adapter_name] = asyncio.create_task(self._advertise(adapter_name))
        elif not active and task is not None:
            task.cancel()

    async def _advertise(self, adapter: str) -> None:
        """While discovering: add newly seen devices, then one RSSI update per advertisement."""
        while True:
            for device in list(self.devices.values()):
                if device.adapter != adapter or not device.in_range or device.connected:
                    continue
                live = self._live[device.path]
                if live.device is None:
                    live.device = Device1(self, device)
                    self._export(device.path, live.device)
                else:
                    device.rssi = max(-100, min(-30, device.rssi + self._rng.choice((-1, 1))))
                    live.device.emit_properties_changed({"RSSI": device.rssi})
            await asyncio.sleep(self.advertise_interval_s)

    # -- connections ------------------------------------------------------------------------
    def _require_connected(self, device: FakeDevice) -> None:
        if not device.connected:
            raise DBusError(ERR_NOT_CONNECTED, "Not Connected")
        self.pairing.require_bond(device)

    async def _connect(self, iface: Device1) -> None:
        device = iface.d
        if not self.adapters[device.adapter].powered:
            raise DBusError(ERR_NOT_READY, "Resource Not Ready")
        if device.connected:
            return
        if not device.in_range:
            await asyncio.sleep(device.connect_timeout_s)
            raise DBusError(ERR_FAILED, "Software caused connection abort")
        await asyncio.sleep(device.connect_latency_s)
        if not device.in_range or iface is not self._live[device.path].device:
            raise DBusError(ERR_FAILED, "Software caused connection abort")
        device.connected = True
        device.connects += 1
        iface.emit_properties_changed({"Connected": True})
        self._export_gatt(device)
        iface.services_resolved = True
        iface.emit_properties_changed({"ServicesResolved": True})

    def _export_gatt(self, device: FakeDevice) -> None:
        live = self._live[device.path]
        sim = device.sim
        service_path = f"{device.path}/service000c"
        service = GattService1(device, 0x000C)
        self._export(service_path, service)
        live.gatt.append((service_path, service))
        if sim.notify_uuid == sim.write_uuid:
            specs = [(sim.notify_uuid, ["read", "write-without-response", "write", "notify"])]
        else:
            specs = [
                (sim.notify_uuid, ["read", "notify"]),
                (sim.write_uuid, ["write-without-response", "write"]),
            ]
        for i, (uuid, flags) in enumerate(specs):
            handle = 0x000D + 3 * i
            path = f"{service_path}/char{handle:04x}"
            char = GattCharacteristic1(self, device, uuid, service_path, handle, flags)
            self._export(path, char)
            live.gatt.append((path, char))
            live.chars[uuid] = char

    async def _drop(self, device: FakeDevice, why: str) -> None:
        live = self._live[device.path]
        for task in list(live.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if not device.connected:
            return
        log.debug("%s: %s", device.address, why)
        device.connected = False
        iface = live.device
        if iface is not None:
            iface.services_resolved = False
            iface.emit_properties_changed({"ServicesResolved": False})
        for path, _ in reversed(live.gatt):
            self._unexport(path)
        live.gatt.clear()
        live.chars.clear()
        if iface is not None:
            iface.emit_properties_changed({"Connected": False})
        await asyncio.sleep(0)

    async def _remove_object(self, path: str) -> None:
        device = self.devices.get(path)
        if device is None:
            raise DBusError(ERR_DOES_NOT_EXIST, "Does Not Exist")
        await self._drop(device, "removed")
        self._unexport_device(device)

    def _set_powered(self, adapter: Adapter1, on: bool) -> None:
        if on == adapter.powered:
            return
        adapter.powered = on
        if not on:
            adapter.power_cycles += 1
            for device in self.devices.values():
                if device.adapter == adapter.hci and device.connected:
                    self._spawn(device, self._drop(device, "adapter powered off"))
            self._sessions[adapter.hci].clear()
            self._update_discovering(adapter.hci)
        adapter.emit_properties_changed({"Powered": on})

    # -- data -------------------------------------------------------------------------------
    def _spawn(self, device: FakeDevice, coro: object) -> None:
        live = self._live[device.path]
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)

    def _write(self, device: FakeDevice, uuid: str, data: bytes) -> None:
        device.writes.append(data)
        if device.mute:
            return
        frames = device.sim.handle_write(uuid, data)
        if frames:
            self._spawn(device, self._deliver(device, frames, device.latency_s))

    def _notify_started(self, device: FakeDevice) -> None:
        period = device.sim.stream_period_s
        live = self._live[device.path]
        if period and not live.streaming:
            live.streaming = True
            self._spawn(device, self._stream(device, period))

    async def _stream(self, device: FakeDevice, period: float) -> None:
        live = self._live[device.path]
        try:
            while device.connected:
                await asyncio.sleep(period)
                if device.mute:
                    continue
                frames = device.sim.stream()
                if frames:
                    await self._deliver(device, frames, 0.0)
        finally:
            live.streaming = False

    def _maybe_corrupt(self, device: FakeDevice, frame: bytes) -> bytes:
        if device.corrupt_rate <= 0 or self._rng.random() >= device.corrupt_rate or not frame:
            return frame
        data = bytearray(frame)
        data[self._rng.randrange(len(data))] ^= 0x5A
        return bytes(data)

    async def _deliver(self, device: FakeDevice, frames: list[bytes], delay: float) -> None:
        live = self._live[device.path]
        await asyncio.sleep(delay)
        async with live.send_lock:
            for frame in frames:
                frame = self._maybe_corrupt(device, frame)
                for start in range(0, len(frame), device.payload):
                    char = live.chars.get(device.sim.notify_uuid)
                    if not device.connected or char is None or not char.notifying:
                        return
                    if device.drop_after_chunks is not None:
                        if device.drop_after_chunks <= 0:
                            device.drop_after_chunks = None
                            await self._drop(device, "link lost mid-frame")
                            return
                        device.drop_after_chunks -= 1
                    char.value = frame[start : start + device.payload]
                    char.emit_properties_changed({"Value": char.value})
                    device.notifications += 1
                    if device.chunk_gap_s:
                        await asyncio.sleep(device.chunk_gap_s)


# -- a private bus, for tests and for running the gateway against simulated devices -------------

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def start_private_bus(directory: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``dbus-daemon`` on a socket in ``directory`` with a policy that lets anyone own
    ``org.bluez``; return the process and its address (FileNotFoundError without dbus-daemon)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise FileNotFoundError("dbus-daemon")
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=directory / "bus.sock"))
    proc = subprocess.Popen(
        [daemon, "--nofork", "--nopidfile", "--print-address", f"--config-file={config}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains about fd limits when not started as a service
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return proc, address


def _device_arg(text: str) -> tuple[str, str, str]:
    """``TYPE=MAC[,NAME]`` → (type, mac, name)."""
    kind, _, rest = text.partition("=")
    mac, _, name = rest.partition(",")
    if not kind or len(mac.split(":")) != 6:
        raise argparse.ArgumentTypeError(f"expected TYPE=MAC[,NAME], got {text!r}")
    return kind, mac.upper(), name or f"{kind.upper()}-{mac[-5:].replace(':', '')}"


async def _serve(devices: list[tuple[str, str, str]], address: str | None) -> None:
    from batmux.devices.registry import get_type, load
    from batmux.sim.battery import SimBattery, sine_load

    fake = FakeBlueZ(address)
    await fake.start()
    for i, (kind, mac, name) in enumerate(devices):
        sim_ref = get_type(kind).sim
        if sim_ref is None:
            raise SystemExit(f"type {kind!r} has no simulator")
        driver_ref = get_type(kind).driver
        spec = load(driver_ref).spec if driver_ref else None
        battery = SimBattery(soc_pct=50.0 + 10 * i, current_a=sine_load(20.0, 300.0), seed=i)
        fake.add_device(
            load(sim_ref)(battery),
            mac,
            name,
            **({"service_uuid": spec.service_uuid} if spec else {}),
            manufacturer_data={m: b"" for m in (spec.manufacturer_ids[:1] if spec else ())},
        )
        print(f"serving {kind} {mac} {name!r}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m batmux.sim.fake_bluez --device jk=C8:47:8C:00:00:01,JK-house``"""
    parser = argparse.ArgumentParser(
        prog="python -m batmux.sim.fake_bluez",
        description="Serve simulated BLE batteries as BlueZ on a private D-Bus.",
    )
    parser.add_argument(
        "--device",
        action="append",
        type=_device_arg,
        required=True,
        metavar="TYPE=MAC[,NAME]",
        help="a simulated device (repeatable)",
    )
    parser.add_argument(
        "--bus", metavar="ADDRESS", help="serve on this bus instead of starting a private one"
    )
    args = parser.parse_args(argv)
    if args.bus:
        asyncio.run(_serve(args.device, args.bus))
        return 0
    with tempfile.TemporaryDirectory(prefix="batmux-bluez-") as tmp:
        proc, address = start_private_bus(Path(tmp))
        print(f"export DBUS_SYSTEM_BUS_ADDRESS={address}", flush=True)
        try:
            asyncio.run(_serve(args.device, address))
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
