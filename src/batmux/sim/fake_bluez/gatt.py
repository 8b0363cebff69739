"""``org.bluez.GattService1`` and ``GattCharacteristic1``: what a connected device exports."""

from __future__ import annotations

import asyncio
import socket
from functools import cache
from typing import TYPE_CHECKING

from dbus_fast import DBusError
from dbus_fast.annotations import DBusBool, DBusBytes, DBusDict, DBusObjectPath, DBusStr, DBusUInt16
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from batmux.errors import BatmuxError
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.layout import NOTIFY_FLAGS, bluez_uuid
from batmux.sim.fake_bluez.names import (
    ERR_NOT_PERMITTED,
    ERR_NOT_SUPPORTED,
    HandleAndMtu,
    PathList,
    StrList,
)
from batmux.sim.peripheral import CharSpec

if TYPE_CHECKING:
    from batmux.sim.fake_bluez.service import FakeBlueZ


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
    """One characteristic of a connected device. Its flags rule what it allows, as in
    bluetoothd: a read needs ``read`` (else the device's ATT error "Read not permitted"), a
    write command needs ``write-without-response`` and StartNotify needs ``notify`` or
    ``indicate`` (else ``NotSupported`` before anything is sent), a write request needs
    ``write`` (else "Write not permitted").

    While a client holds an AcquireNotify socket (``notify_sock``) StartNotify is refused
    (``NotPermitted``) and ``Value`` no longer changes; while it holds an AcquireWrite socket
    (``write_sock``) WriteValue is refused (``NotPermitted``). The acquisitions themselves are
    answered in ``acquire.py`` (they pass a file descriptor). Build instances with
    ``characteristic_class(flags)``: the ``NotifyAcquired``/``WriteAcquired`` properties exist
    only with the ``notify``/``write-without-response`` flag, as in bluetoothd."""

    def __init__(
        self,
        bluez: FakeBlueZ,
        device: FakeDevice,
        spec: CharSpec,
        service_path: str,
        handle: int,
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._bluez = bluez
        self.d = device
        self.spec = spec  # the sim sees its own spelling of the UUID
        self.uuid = bluez_uuid(spec.uuid)
        self.service_path = service_path
        self.handle = handle
        self.flags = list(spec.flags)
        self.value = b""
        self.notifying = False
        self.notify_sock: socket.socket | None = None  # bluetoothd's end of AcquireNotify
        self.write_sock: socket.socket | None = None  # bluetoothd's end of AcquireWrite

    @property
    def subscribed(self) -> bool:
        """The device notifies: a StartNotify session or an acquired notify socket."""
        return self.notifying or self.notify_sock is not None

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
        if "read" not in self.flags:
            raise DBusError(ERR_NOT_PERMITTED, "Read not permitted")
        try:
            self.value = bytes(self.d.sim.handle_read(self.spec.uuid))
        except BatmuxError as exc:
            raise DBusError(ERR_NOT_PERMITTED, "Read not permitted") from exc
        self.d.reads.append(self.uuid)
        return self.value

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict):
        self._bluez._require_connected(self.d)
        if self.write_sock is not None:
            raise DBusError(ERR_NOT_PERMITTED, "Write acquired")
        kind = options["type"].value if "type" in options else None
        if kind is None:  # bluetoothd prefers a request when the characteristic allows one
            kind = "request" if "write" in self.flags else "command"
        if kind == "command" and "write-without-response" not in self.flags:
            raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        if kind != "command" and "write" not in self.flags:
            raise DBusError(ERR_NOT_PERMITTED, "Write not permitted")
        self._bluez._write(self.d, self.spec.uuid, bytes(value))

    @dbus_method()
    def StartNotify(self):
        self._bluez._require_connected(self.d)
        if self.notify_sock is not None:
            raise DBusError(ERR_NOT_PERMITTED, "Notify acquired")
        if not any(flag in self.flags for flag in NOTIFY_FLAGS):
            raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        if not self.notifying:
            self.notifying = True
            self.emit_properties_changed({"Notifying": True})
        self._bluez._notify_started(self.d, self)

    @dbus_method()
    def StopNotify(self):
        if self.notify_sock is not None:  # bluetoothd releases the acquired socket
            self._bluez._release(self, "notify")
            return
        if self.notifying:
            self.notifying = False
            self.emit_properties_changed({"Notifying": False})

    # answered in FakeBlueZ._on_message (acquire.py): the reply carries a file descriptor
    @dbus_method()
    def AcquireNotify(self, options: DBusDict) -> HandleAndMtu:
        raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")

    @dbus_method()
    def AcquireWrite(self, options: DBusDict) -> HandleAndMtu:
        raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")


class _NotifyAcquired:
    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> DBusBool:
        return self.notify_sock is not None  # type: ignore[attr-defined]


class _WriteAcquired:
    @dbus_property(access=PropertyAccess.READ)
    def WriteAcquired(self) -> DBusBool:
        return self.write_sock is not None  # type: ignore[attr-defined]


@cache
def _with_properties(notify: bool, write: bool) -> type[GattCharacteristic1]:
    bases = (
        *((_NotifyAcquired,) if notify else ()),
        *((_WriteAcquired,) if write else ()),
        GattCharacteristic1,
    )
    if len(bases) == 1:
        return GattCharacteristic1
    return type("GattCharacteristic1", bases, {})


def characteristic_class(flags: tuple[str, ...] | list[str]) -> type[GattCharacteristic1]:
    """The characteristic interface with the acquire properties its flags allow."""
    return _with_properties("notify" in flags, "write-without-response" in flags)
