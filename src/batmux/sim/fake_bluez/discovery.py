"""Discovery sessions (one per D-Bus client and adapter) and the advertiser that runs meanwhile."""

from __future__ import annotations

import asyncio

from dbus_fast import Message

from batmux.sim.fake_bluez.device_iface import Device1
from batmux.sim.fake_bluez.names import ERR_FAILED, ERR_IN_PROGRESS, ERR_NOT_READY
from batmux.sim.fake_bluez.state import BlueZState


class Discovery(BlueZState):
    """StartDiscovery/StopDiscovery as bluetoothd answers them, and what a discovering adapter
    sends: newly seen devices (InterfacesAdded), then an RSSI update per advertisement."""

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
