"""Connect, disconnect and adapter power: the link state of each device and its GATT objects."""

from __future__ import annotations

import asyncio
import logging

from dbus_fast import DBusError

from batmux.sim.fake_bluez.adapter import Adapter1
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.device_iface import Device1
from batmux.sim.fake_bluez.discovery import Discovery
from batmux.sim.fake_bluez.gatt import GattService1, characteristic_class
from batmux.sim.fake_bluez.names import (
    ERR_DOES_NOT_EXIST,
    ERR_FAILED,
    ERR_NOT_CONNECTED,
    ERR_NOT_READY,
)

log = logging.getLogger(__name__)


class Connections(Discovery):
    """Connect emits ``Connected``, the GATT objects, then ``ServicesResolved``; a drop (local,
    link lost, device gone, adapter off) undoes that in reverse and cancels the device's tasks."""

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
        service_path = f"{device.path}/service000c"
        service = GattService1(device, 0x000C)
        self._export(service_path, service)
        live.gatt.append((service_path, service))
        for i, spec in enumerate(device.gatt_table()):
            handle = 0x000D + 3 * i  # declaration, value, CCCD
            path = f"{service_path}/char{handle:04x}"
            char = characteristic_class(spec.flags)(self, device, spec, service_path, handle)
            self._export(path, char)
            live.gatt.append((path, char))
            live.chars[char.uuid] = char

    async def _drop(self, device: FakeDevice, why: str) -> None:
        live = self._live[device.path]
        for task in list(live.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if not device.connected:
            return
        log.debug("%s: %s", device.address, why)
        device.connected = False
        self._close_sockets(device)
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

    def _close_sockets(self, device: FakeDevice) -> None:
        """Acquired sockets end with the link (acquire.py); nothing to close at this layer."""

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
