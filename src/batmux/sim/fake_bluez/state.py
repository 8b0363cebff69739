"""What every layer of ``FakeBlueZ`` shares: adapters, devices, their exported objects, the bus.

``FakeBlueZ`` is built as a chain of small layers, each adding one job on top of the one below:
``BlueZState`` → ``Discovery`` → ``Connections`` → ``Notifications`` → ``Acquisitions`` →
``FakeBlueZ``.
"""

from __future__ import annotations

import asyncio
import random

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface

from batmux.sim.fake_bluez.adapter import Adapter1
from batmux.sim.fake_bluez.device import FakeDevice, LiveObjects
from batmux.sim.fake_bluez.pairing import FakePairing


class BlueZState:
    """The adapters, the devices added so far, the objects exported for them, and the bus."""

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
        self._live: dict[str, LiveObjects] = {}
        self._sessions: dict[str, set[str]] = {name: set() for name in adapters}
        self._advertisers: dict[str, asyncio.Task[None]] = {}
        self._exported: set[str] = set()
        self._bus: MessageBus | None = None
        self._rng = random.Random(0)
        self.pairing = FakePairing(self)  # type: ignore[arg-type]  # self is a FakeBlueZ

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

    # -- per-device tasks (a drop cancels them) ---------------------------------------------
    def _spawn(self, device: FakeDevice, coro: object) -> None:
        live = self._live[device.path]
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)
