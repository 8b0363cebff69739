"""Fixtures: a private D-Bus daemon that stands in for the system bus, and a fake BlueZ on it.

``bluez_bus`` (session scope) starts ``dbus-daemon --nofork --print-address`` with a config that
lets anyone own ``org.bluez`` and points ``DBUS_SYSTEM_BUS_ADDRESS`` at it, so bleak's BlueZ
backend (which always talks to the *system* bus) reaches the fake. ``fake_bluez`` (per test)
serves ``FakeBlueZ`` with one adapter, hci0, on that bus (bleak picks the default adapter from
an unordered set, so tests that need a second adapter build ``FakeBlueZ(bluez_bus, ("hci0",
"hci1"))`` themselves and name the adapter). Both skip when dbus-daemon is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.bus import start_private_bus
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.jk import JkSimDevice


async def seconds_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Seconds until ``predicate()`` holds (TimeoutError after ``timeout``)."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)
    return time.monotonic() - start


class Host:
    """The host's Bluetooth stack as the gateway sees it: a dbus-daemon at a fixed socket path
    (``address``) and a fake bluetoothd on it serving one JK pack at ``mac``, each started and
    killed at will, so "absent" is an address with nothing behind it."""

    def __init__(self, directory: Path, mac: str) -> None:
        self.directory = directory
        self.mac = mac
        self.address = f"unix:path={directory / 'bus.sock'}"
        self.bus: subprocess.Popen[str] | None = None
        self.bluez: FakeBlueZ | None = None

    def start_bus(self) -> None:
        self.bus, _ = start_private_bus(self.directory)

    def kill_bus(self) -> None:
        assert self.bus is not None
        self.bus.kill()
        self.bus.wait()
        self.bus = None
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "bus.sock").unlink()

    async def start_bluez(self, adapters: tuple[str, ...] = ("hci0",)) -> FakeBlueZ:
        self.bluez = FakeBlueZ(bus_address=self.address, adapters=adapters)
        await self.bluez.start()
        device = JkSimDevice(SimBattery(cells=4, soc_pct=61.0), stream_period_s=0.1)
        self.bluez.add_device(device, self.mac, "JK_B2A8S20P")
        return self.bluez

    async def kill_bluez(self) -> None:
        assert self.bluez is not None
        await self.bluez.stop()
        self.bluez = None

    async def close(self) -> None:
        if self.bluez is not None:
            await self.kill_bluez()
        if self.bus is not None:
            self.kill_bus()


@pytest.fixture(scope="session")
def bluez_bus() -> Iterator[str]:
    """Address of a private bus that bleak uses as the system bus for this test session."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (apt install dbus)")
    with tempfile.TemporaryDirectory(prefix="batmux-bus-") as tmp:
        proc, address = start_private_bus(Path(tmp))
        saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        try:
            yield address
        finally:
            if saved is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
async def fake_bluez(bluez_bus: str) -> AsyncIterator[FakeBlueZ]:
    """A fake BlueZ with adapter hci0 and no devices yet (add them with ``add_device``)."""
    fake = FakeBlueZ(bus_address=bluez_bus)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def call_char(bus: Any, path: str, member: str, signature: str = "", body=()) -> Any:
    """Call ``member`` of org.bluez.GattCharacteristic1 at ``path`` the way any BlueZ client
    does (``bus`` is a dbus-fast MessageBus); returns the reply, errors included."""
    from dbus_fast import Message

    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface="org.bluez.GattCharacteristic1",
            member=member,
            signature=signature,
            body=list(body),
        )
    )
    assert reply is not None
    return reply


def sockets_out(fake: FakeBlueZ, mac: str) -> dict[str, tuple[bool, bool]]:
    """Per characteristic of the device at ``mac``: (notify socket out, write socket out);
    empty once the device is disconnected."""
    live = fake._live.get(fake.device(mac).path)
    if live is None:
        return {}
    return {
        uuid: (c.notify_sock is not None, c.write_sock is not None)
        for uuid, c in live.chars.items()
    }


def assert_matches_truth(sample: Any, battery: SimBattery, resolution: float) -> None:
    """A decoded sample equals the simulated pack's truth within the protocol's resolution."""
    truth = battery.truth()
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=resolution)
    assert sample.current_a == pytest.approx(truth.current_a, abs=resolution)
    assert sample.soc_pct == round(truth.soc_pct)
    assert sample.cell_voltages_v == pytest.approx(truth.cell_voltages_v, abs=0.001)
