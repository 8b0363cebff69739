"""Test doubles for the Venus tests: a dbusmonitor-like client and fake Victron devices."""

from __future__ import annotations

import asyncio
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus


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


class FakeVictronService:
    """A minimal Victron device (VE.Bus, solar charger, shunt, settings) on the test bus.

    Written independently of batmux's service: GetItems/GetValue, and ``set()`` emits
    PropertiesChanged (and ItemsChanged unless ``items_changed=False``, like older services).
    """

    def __init__(
        self,
        name: str,
        values: dict[str, Any],
        *,
        get_items: bool = True,
        items_changed: bool = True,
    ) -> None:
        self.name = name
        self.values = dict(values)
        self.get_items = get_items
        self.items_changed = items_changed
        self.bus: MessageBus | None = None

    @staticmethod
    def _variant(value: Any) -> Variant:
        if value is None:
            return Variant("ai", [])
        if isinstance(value, float):
            return Variant("d", value)
        if isinstance(value, int):
            return Variant("i", value)
        return Variant("s", value)

    async def start(self, address: str) -> FakeVictronService:
        self.bus = await MessageBus(bus_address=address).connect()
        self.bus.add_message_handler(self._handle)
        await self.bus.request_name(self.name)
        return self

    def _handle(self, msg: Message) -> Message | None:
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        if msg.member == "GetItems" and msg.path == "/" and self.get_items:
            items = {
                p: {"Value": self._variant(v), "Text": Variant("s", str(v))}
                for p, v in self.values.items()
            }
            return Message.new_method_return(msg, "a{sa{sv}}", [items])
        if msg.member == "GetValue" and msg.path in self.values:
            return Message.new_method_return(msg, "v", [self._variant(self.values[msg.path])])
        return None

    def set(self, path: str, value: Any) -> None:
        assert self.bus is not None
        self.values[path] = value
        item = {"Value": self._variant(value), "Text": Variant("s", str(value))}
        self.bus.send(
            Message.new_signal(
                path, "com.victronenergy.BusItem", "PropertiesChanged", "a{sv}", [item]
            )
        )
        if self.items_changed:
            self.bus.send(
                Message.new_signal(
                    "/", "com.victronenergy.BusItem", "ItemsChanged", "a{sa{sv}}", [{path: item}]
                )
            )

    async def stop(self) -> None:
        if self.bus is not None:
            self.bus.disconnect()
            await self.bus.wait_for_disconnect()


async def wait_name(monitor: Monitor, name: str, timeout: float = 3.0) -> None:
    """Until ``name`` has an owner on the bus."""
    async with asyncio.timeout(timeout):
        while True:
            reply = await monitor.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "NameHasOwner",
                "s",
                [name],
                interface="org.freedesktop.DBus",
            )
            if reply.message_type is MessageType.METHOD_RETURN and reply.body[0]:
                return
            await asyncio.sleep(0.02)
