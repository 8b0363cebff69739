"""Data from a device: answers to writes and streamed frames as MTU-sized notifications, with
the faults a test can switch on (mute, corrupt_rate, drop_after_chunks, chunk_gap_s).

Frames go to the sim's ``notify_uuid``; a device with several characteristics can also notify
each subscribed one with its current value (``value_notify_period_s``, from ``handle_read``),
and a test can push a value on any characteristic (``FakeBlueZ.notify``)."""

from __future__ import annotations

import asyncio

from batmux.errors import BatmuxError
from batmux.sim.fake_bluez.connections import Connections
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.gatt import GattCharacteristic1
from batmux.sim.fake_bluez.layout import bluez_uuid
from batmux.sim.peripheral import maybe_corrupt


class Notifications(Connections):
    """Each notification is a PropertiesChanged of the characteristic's ``Value``, one per chunk
    of ``mtu - 3`` bytes, as bluetoothd forwards them after StartNotify (``acquire.py`` sends
    them through an acquired socket instead)."""

    def _write(self, device: FakeDevice, uuid: str, data: bytes) -> None:
        device.writes.append(data)
        device.write_log.append((bluez_uuid(uuid), data))
        if device.mute:
            return
        frames = device.sim.handle_write(uuid, data)
        if frames:
            self._spawn(device, self._deliver(device, frames, device.latency_s))

    def _send_notification(self, char: GattCharacteristic1, chunk: bytes) -> None:
        char.value = chunk
        char.emit_properties_changed({"Value": chunk})

    def _notify_started(self, device: FakeDevice, char: GattCharacteristic1) -> None:
        period = device.sim.stream_period_s
        live = self._live[device.path]
        if period and not live.streaming:
            live.streaming = True
            self._spawn(device, self._stream(device, period))
        if device.value_notify_period_s and char.uuid not in live.value_loops:
            live.value_loops.add(char.uuid)
            self._spawn(device, self._notify_values(device, char, device.value_notify_period_s))

    async def _notify_values(
        self, device: FakeDevice, char: GattCharacteristic1, period: float
    ) -> None:
        """A device that notifies a subscribed value by itself (the SmartShunt does)."""
        live = self._live[device.path]
        try:
            while device.connected and char.subscribed:
                await asyncio.sleep(period)
                if device.mute or not char.subscribed:
                    continue
                try:
                    value = bytes(device.sim.handle_read(char.spec.uuid))
                except BatmuxError:
                    continue  # nothing to notify (e.g. not bonded in the sim)
                await self._deliver(device, [value], 0.0, char.uuid)
        finally:
            live.value_loops.discard(char.uuid)

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

    async def _deliver(
        self, device: FakeDevice, frames: list[bytes], delay: float, uuid: str | None = None
    ) -> None:
        live = self._live[device.path]
        target = bluez_uuid(uuid or device.sim.notify_uuid)
        await asyncio.sleep(delay)
        async with live.send_lock:
            for frame in frames:
                frame = maybe_corrupt(self._rng, device.corrupt_rate, frame)
                for start in range(0, len(frame), device.payload):
                    char = live.chars.get(target)
                    if not device.connected or char is None or not char.subscribed:
                        return
                    if device.drop_after_chunks is not None:
                        if device.drop_after_chunks <= 0:
                            device.drop_after_chunks = None
                            await self._drop(device, "link lost mid-frame")
                            return
                        device.drop_after_chunks -= 1
                    self._send_notification(char, frame[start : start + device.payload])
                    device.notifications += 1
                    if device.chunk_gap_s:
                        await asyncio.sleep(device.chunk_gap_s)
