"""A private dbus-daemon per test, and a client that watches services the way dbusmonitor does."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def dbus_address() -> Iterator[str]:
    """Start a private dbus-daemon; yield its address."""
    exe = shutil.which("dbus-daemon")
    if exe is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus)")
    # A short directory: unix socket paths are limited to ~108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="bmdbus"))
    config = workdir / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=workdir / "bus"))
    proc = subprocess.Popen(
        [exe, "--config-file", str(config), "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


class Monitor:
    """Watches com.victronenergy.* services like velib's dbusmonitor.

    On a new name: GetItems on ``/``; afterwards ItemsChanged on ``/`` and PropertiesChanged on
    every path keep ``items[service][path]`` (the raw Variant) up to date.
    """

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.items: dict[str, dict[str, Variant]] = {}
        self.owners: dict[str, str] = {}  # unique name → service
        self.items_changed: list[tuple[str, dict[str, Any]]] = []
        self.props_changed: list[tuple[str, str]] = []
        self.changed = asyncio.Event()
        bus.add_message_handler(self._on_message)

    @classmethod
    async def start(cls, address: str) -> Monitor:
        bus = await MessageBus(bus_address=address).connect()
        self = cls(bus)
        for rule in (
            "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'",
            "type='signal',interface='com.victronenergy.BusItem',member='ItemsChanged'",
            "type='signal',interface='com.victronenergy.BusItem',member='PropertiesChanged'",
        ):
            await self.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "AddMatch",
                "s",
                [rule],
                "org.freedesktop.DBus",
            )
        return self

    async def call(
        self,
        dest: str,
        path: str,
        member: str,
        sig: str = "",
        body: list[Any] | None = None,
        interface: str = "com.victronenergy.BusItem",
    ) -> Message:
        reply = await self.bus.call(
            Message(
                destination=dest,
                path=path,
                interface=interface,
                member=member,
                signature=sig,
                body=body or [],
            )
        )
        assert reply is not None
        return reply

    async def scan(self, service: str) -> None:
        reply = await self.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "GetNameOwner",
            "s",
            [service],
            "org.freedesktop.DBus",
        )
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        self.owners[reply.body[0]] = service
        items = await self.call(service, "/", "GetItems")
        assert items.signature == "a{sa{sv}}"
        self.items[service] = {p: item["Value"] for p, item in items.body[0].items()}

    def value(self, service: str, path: str) -> Any:
        v = self.items[service][path]
        return None if v.signature == "ai" and v.value == [] else v.value

    def _on_message(self, msg: Message) -> None:
        if msg.message_type is not MessageType.SIGNAL:
            return
        if msg.member == "NameOwnerChanged":
            name, _old, new = msg.body
            if not new:
                self.items.pop(name, None)
                self.changed.set()
            return
        service = self.owners.get(msg.sender or "")
        if service is None or service not in self.items:
            return
        if msg.member == "ItemsChanged" and msg.path == "/":
            self.items_changed.append((service, msg.body[0]))
            for path, item in msg.body[0].items():
                self.items[service][path] = item["Value"]
        elif msg.member == "PropertiesChanged":
            self.props_changed.append((service, msg.path))
            self.items[service][msg.path] = msg.body[0]["Value"]
        self.changed.set()

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        self.bus.disconnect()


@pytest.fixture
async def monitor(dbus_address: str) -> Any:
    mon = await Monitor.start(dbus_address)
    yield mon
    await mon.close()
