"""``org.bluez.Adapter1``: one local radio (hciN) that can be powered and discover."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbus_fast.annotations import DBusBool, DBusDict, DBusObjectPath, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from batmux.sim.fake_bluez.names import StrList

if TYPE_CHECKING:
    from batmux.sim.fake_bluez.service import FakeBlueZ


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
