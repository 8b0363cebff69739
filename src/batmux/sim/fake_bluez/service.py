"""``FakeBlueZ``: lifecycle on the bus, message routing, and the scenario API tests drive."""

from __future__ import annotations

import contextlib

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.constants import ErrorType

from batmux.sim.fake_bluez.acquire import Acquisitions
from batmux.sim.fake_bluez.device import FakeDevice, LiveObjects, device_path
from batmux.sim.fake_bluez.names import BLUEZ
from batmux.sim.fake_bluez.pairing import MANAGER_PATH
from batmux.sim.peripheral import SimDevice


class FakeBlueZ(Acquisitions):
    """Serves ``FakeDevice``s as ``org.bluez`` on the bus at ``bus_address``. The constructor is
    ``BlueZState``'s: ``FakeBlueZ(bus_address, adapters=("hci0",), advertise_interval_s=0.05)``.
    """

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        # unix fds: AcquireNotify/AcquireWrite hand out a socket
        if self.bus_address:
            bus = MessageBus(bus_address=self.bus_address, negotiate_unix_fd=True)
        else:
            bus = MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
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
        for path, live in self._live.items():
            for task in live.tasks:
                task.cancel()
            self._close_sockets(self.devices[path])
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
        self._live[device.path] = LiveObjects()
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

    async def notify(self, address: str, uuid: str, value: bytes, adapter: str = "hci0") -> bool:
        """The device notifies ``value`` on characteristic ``uuid`` (in MTU-sized chunks); False
        when nobody listens (not connected, no such characteristic, notifications off)."""
        device = self.device(address, adapter)
        before = device.notifications
        await self._deliver(device, [bytes(value)], 0.0, uuid)
        return device.notifications > before

    def power_cycles(self, adapter: str = "hci0") -> int:
        return self.adapters[adapter].power_cycles

    def discovering(self, adapter: str = "hci0") -> bool:
        return bool(self._sessions[adapter])

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
        acquired = self._on_acquire(msg)
        if acquired is not None:
            return acquired
        return self.pairing.on_message(msg)
