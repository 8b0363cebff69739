"""The GATT side of the simulated ESPHome proxy: connection slots and the relayed requests.

``GattRelay`` is the part of ``SimProxy`` that serves ``BluetoothDeviceRequest`` (connect and
disconnect, with the proxy's slot limit and one central per peripheral), service discovery,
reads, writes, CCCD writes and notifications. The peripheral behind each connection is a
``SimPeripheral`` around the family's ``SimDevice``: the family simulator answers, chunks and
delays exactly as it does in-process; this module only maps handles and ESPHome's messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aioesphomeapi import api_pb2 as pb

from batmux.links.ble import uuid16
from batmux.protocols import ble_ad
from batmux.sim.fake_bluez.layout import bluez_uuid, gatt_table
from batmux.sim.peripheral import CharSpec, SimDevice, SimPeripheral

GATT_ERROR = 133  # ESP_GATT_ERROR, the "status 133" every BLE user has met
GATT_INVALID_HANDLE = 0x01
PROPERTY_BITS = {
    "broadcast": 0x01,
    "read": 0x02,
    "write-without-response": 0x04,
    "write": 0x08,
    "notify": 0x10,
    "indicate": 0x20,
}
CCCD = 0x2902


def mac_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def uuid_words(uuid: str) -> list[int]:
    """ESPHome's 128-bit UUID as two 64-bit words, high first."""
    value = int(bluez_uuid(uuid).replace("-", ""), 16)
    return [value >> 64, value & 0xFFFFFFFFFFFFFFFF]


@dataclass
class AirDevice:
    """A peripheral on the air: what it advertises and (optionally) its GATT side."""

    address: str
    name: str
    sim: SimDevice | None = None  # None: advertises only (Victron Instant Readout)
    service_uuid: str = uuid16(0xFFE0)
    manufacturer_data: Callable[[], dict[int, bytes]] = dict
    mtu: int = 23
    latency_s: float = 0.005  # radio: write → first notification
    chunk_gap_s: float = 0.001
    in_range: bool = True
    connect_errors: int = 0  # the next connects fail with GATT status 133
    connected_via: str | None = None  # the proxy holding its one connection
    connects: int = 0

    def advertisement(self) -> bytes:
        return ble_ad.build(self.name, (self.service_uuid,), self.manufacturer_data())


@dataclass
class ProxiedConnection:
    """One proxied connection: the peripheral, its handle table, its notify state."""

    device: AirDevice
    peripheral: SimPeripheral
    session: Any  # the API session that asked
    chars: dict[int, CharSpec] = field(default_factory=dict)  # value handle → characteristic
    cccds: dict[int, int] = field(default_factory=dict)  # CCCD handle → value handle
    registered: set[int] = field(default_factory=set)  # NotifyRequest(enable) seen


class GattRelay:
    """Connection slots and GATT requests of ``SimProxy`` (which provides the state below)."""

    name: str
    slots: int
    connect_timeout_s: float
    hears: dict[str, tuple[AirDevice, int]]
    gatt: dict[int, ProxiedConnection]
    sessions: set[Any]
    max_in_use: int
    fail_connects_with: int
    drop_notifications: bool
    notifications: int
    restart_at_notification: int | None
    restart_down_s: float
    _restarting: asyncio.Task[None] | None

    @property
    def free(self) -> int:
        return self.slots - len(self.gatt)

    restart: Callable[..., Any]  # SimProxy.restart

    def _free_message(self) -> pb.BluetoothConnectionsFreeResponse:
        return pb.BluetoothConnectionsFreeResponse(
            free=self.free, limit=self.slots, allocated=list(self.gatt)
        )

    def _free_changed(self) -> None:
        for session in self.sessions:
            if session.free_updates:
                session.send(self._free_message())

    def _state(self, s: Any, address: int, connected: bool, mtu: int = 0, error: int = 0) -> None:
        s.send(
            pb.BluetoothDeviceConnectionResponse(
                address=address, connected=connected, mtu=mtu, error=error
            )
        )

    async def _connect(self, s: Any, address: int) -> None:
        heard = next((d for d, _ in self.hears.values() if mac_int(d.address) == address), None)
        if address in self.gatt:  # already ours: ESPHome reports the connection again
            conn = self.gatt[address]
            self._state(s, address, True, conn.device.mtu)
            return
        if self.free <= 0:  # ESPHome: "No free connections available"
            self._state(s, address, False, error=0)
            return
        if heard is None or heard.sim is None or not heard.in_range or heard.connected_via:
            await asyncio.sleep(self.connect_timeout_s)
            self._state(s, address, False, error=GATT_ERROR)
            return
        if heard.connect_errors > 0 or self.fail_connects_with:
            heard.connect_errors = max(0, heard.connect_errors - 1)
            await asyncio.sleep(heard.latency_s)
            self._state(s, address, False, error=self.fail_connects_with or GATT_ERROR)
            return
        peripheral = SimPeripheral(
            heard.sim,
            address=heard.address,
            mtu_payload=heard.mtu - 3,
            latency_s=heard.latency_s,
            chunk_gap_s=heard.chunk_gap_s,
        )
        conn = ProxiedConnection(heard, peripheral, s)
        self.gatt[address] = conn  # the slot is taken from the connect request on
        self.max_in_use = max(self.max_in_use, len(self.gatt))
        heard.connected_via = self.name
        await peripheral.connect()
        if self.gatt.get(address) is not conn:  # dropped meanwhile (restart, disconnect)
            await peripheral.disconnect()
            return
        heard.connects += 1
        handle = 0x0C
        for spec in gatt_table(heard.sim):
            conn.chars[handle + 2] = spec  # declaration, value, CCCD
            if {"notify", "indicate"} & set(spec.flags):
                conn.cccds[handle + 3] = handle + 2
            handle += 3
        self._state(s, address, True, heard.mtu)
        self._free_changed()

    def _release(self, address: int) -> ProxiedConnection | None:
        """Free the slot and the peripheral at once (its radio teardown runs on its own)."""
        conn = self.gatt.pop(address, None)
        if conn is not None:
            conn.device.connected_via = None
            task = asyncio.ensure_future(conn.peripheral.disconnect())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return conn

    async def _drop(self, address: int) -> None:
        conn = self._release(address)
        if conn is not None and conn.session in self.sessions:
            self._state(conn.session, address, False)
        self._free_changed()

    def _services(self, s: Any, address: int) -> None:
        conn = self.gatt.get(address)
        if conn is None:
            self._state(s, address, False)
            return
        chars = [
            pb.BluetoothGATTCharacteristic(
                uuid=uuid_words(spec.uuid),
                handle=handle,
                properties=sum(PROPERTY_BITS.get(f, 0) for f in spec.flags),
                descriptors=[
                    pb.BluetoothGATTDescriptor(uuid=uuid_words(uuid16(CCCD)), handle=cccd)
                    for cccd, value in conn.cccds.items()
                    if value == handle
                ],
            )
            for handle, spec in conn.chars.items()
        ]
        service = pb.BluetoothGATTService(
            uuid=uuid_words(conn.device.service_uuid), handle=0x0C, characteristics=chars
        )
        s.send(pb.BluetoothGATTGetServicesResponse(address=address, services=[service]))
        s.send(pb.BluetoothGATTGetServicesDoneResponse(address=address))

    def _gatt_error(self, s: Any, address: int, handle: int, error: int) -> None:
        s.send(pb.BluetoothGATTErrorResponse(address=address, handle=handle, error=error))

    def _char(self, s: Any, address: int, handle: int) -> tuple[ProxiedConnection, CharSpec] | None:
        """The connection and characteristic of a request, or None after an error reply."""
        conn = self.gatt.get(address)
        spec = conn.chars.get(handle) if conn else None
        if conn is None or spec is None:
            self._gatt_error(s, address, handle, GATT_INVALID_HANDLE)
            return None
        return conn, spec

    def _notify(self, s: Any, msg: pb.BluetoothGATTNotifyRequest) -> None:
        """Register (or not) for a characteristic's notifications; the CCCD write starts them."""
        if (found := self._char(s, msg.address, msg.handle)) is None:
            return
        registered = found[0].registered
        (registered.add if msg.enable else registered.discard)(msg.handle)
        s.send(pb.BluetoothGATTNotifyResponse(address=msg.address, handle=msg.handle))

    async def _read(self, s: Any, address: int, handle: int) -> None:
        if (found := self._char(s, address, handle)) is None:
            return
        conn, spec = found
        try:
            data = await conn.peripheral.read(spec.uuid)
        except Exception:  # the device refused: ESP_GATT_READ_NOT_PERMIT
            self._gatt_error(s, address, handle, 0x02)
            return
        s.send(pb.BluetoothGATTReadResponse(address=address, handle=handle, data=data))

    async def _write(self, s: Any, msg: pb.BluetoothGATTWriteRequest) -> None:
        if (found := self._char(s, msg.address, msg.handle)) is None:
            return
        conn, spec = found
        needs = "write" if msg.response else "write-without-response"
        try:
            if needs not in spec.flags:  # refused as the fake BlueZ refuses it
                raise PermissionError(f"{spec.uuid} has no {needs}")
            await conn.peripheral.write(spec.uuid, bytes(msg.data), response=msg.response)
        except Exception:  # ESP_GATT_WRITE_NOT_PERMIT
            self._gatt_error(s, msg.address, msg.handle, 0x03)
            return
        if msg.response:
            s.send(pb.BluetoothGATTWriteResponse(address=msg.address, handle=msg.handle))

    async def _write_cccd(self, s: Any, msg: pb.BluetoothGATTWriteDescriptorRequest) -> None:
        conn = self.gatt.get(msg.address)
        value_handle = conn.cccds.get(msg.handle) if conn else None
        if conn is None or value_handle is None:
            self._gatt_error(s, msg.address, msg.handle, GATT_INVALID_HANDLE)
            return
        spec = conn.chars[value_handle]
        if bytes(msg.data[:1]) in (b"\x01", b"\x02"):
            address = msg.address

            def forward(chunk: bytes) -> None:
                if self.drop_notifications:
                    return
                if value_handle in conn.registered and self.gatt.get(address) is conn:
                    self.notifications += 1
                    if self.notifications == self.restart_at_notification:
                        self._restarting = asyncio.ensure_future(self.restart(self.restart_down_s))
                    s.send(
                        pb.BluetoothGATTNotifyDataResponse(
                            address=address, handle=value_handle, data=chunk
                        )
                    )

            await conn.peripheral.start_notify(spec.uuid, forward)
        else:
            await conn.peripheral.stop_notify(spec.uuid)
        s.send(pb.BluetoothGATTWriteResponse(address=msg.address, handle=msg.handle))
