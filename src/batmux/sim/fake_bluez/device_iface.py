"""``org.bluez.Device1``: a remote peripheral as an adapter lists it (advertising data, Connect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbus_fast import Variant
from dbus_fast.annotations import DBusBool, DBusDict, DBusInt16, DBusObjectPath, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.names import ManufacturerMap, StrList

if TYPE_CHECKING:
    from batmux.sim.fake_bluez.service import FakeBlueZ


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
