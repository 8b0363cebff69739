"""One simulated peripheral as bluetoothd sees it, its fault knobs, and its exported objects."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from batmux.links.ble import uuid16
from batmux.sim.fake_bluez.layout import gatt_table
from batmux.sim.peripheral import CharSpec, SimDevice

if TYPE_CHECKING:
    from dbus_fast.service import ServiceInterface

    from batmux.sim.fake_bluez.device_iface import Device1
    from batmux.sim.fake_bluez.gatt import GattCharacteristic1


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
    # GATT table (layout.py): empty = the sim's ``characteristics``, else its notify/write pair
    characteristics: tuple[CharSpec, ...] = ()
    # notify each subscribed characteristic's current value (its ``handle_read``) this often
    value_notify_period_s: float | None = None
    # pairing (pairing.py): a device with a pin refuses GATT access until paired
    pin: str | None = None
    pairing: str = "passkey"  # the agent question: "passkey" (LE) or "pincode" (legacy)
    paired: bool = False
    pair_attempts: int = 0
    # state (read by tests)
    in_range: bool = True
    connected: bool = False
    connects: int = 0
    writes: list[bytes] = field(default_factory=list)
    write_log: list[tuple[str, bytes]] = field(default_factory=list)  # (characteristic, data)
    reads: list[str] = field(default_factory=list)  # characteristic of every ReadValue served
    notifications: int = 0

    @property
    def path(self) -> str:
        return device_path(self.adapter, self.address)

    @property
    def payload(self) -> int:
        return self.mtu - 3

    def gatt_table(self) -> list[CharSpec]:
        return gatt_table(self.sim, self.characteristics)


@dataclass
class LiveObjects:
    """The exported objects of one device."""

    device: Device1 | None = None
    gatt: list[tuple[str, ServiceInterface]] = field(default_factory=list)
    chars: dict[str, GattCharacteristic1] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    streaming: bool = False
    value_loops: set[str] = field(default_factory=set)  # characteristics notifying values
