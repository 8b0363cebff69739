"""D-Bus plumbing shared by the Venus service and the Victron input: connect, value ⇄ Variant.

The bus is the system bus unless an address is given; dbus-fast already honours
``DBUS_SYSTEM_BUS_ADDRESS``. Foreign errors are translated to ``LinkError`` here, once.
"""

from __future__ import annotations

from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from batmux.errors import LinkError

BUSITEM = "com.victronenergy.BusItem"
DBUS = "org.freedesktop.DBus"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INVALID = Variant("ai", [])  # how Venus sends "no value"

Value = float | int | str | None


async def connect(bus_address: str | None = None) -> MessageBus:
    try:
        if bus_address:
            return await MessageBus(bus_address=bus_address).connect()
        return await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (OSError, DBusError, ValueError) as exc:
        raise LinkError(f"cannot connect to D-Bus {bus_address or '(system bus)'}: {exc}") from exc


def wrap(value: Value) -> Variant:
    """velib's mapping: float→d, int→i (x when it overflows), str→s, None→empty ai."""
    if value is None:
        return INVALID
    if isinstance(value, bool):
        return Variant("i", int(value))
    if isinstance(value, int):
        return Variant("i" if INT32_MIN <= value <= INT32_MAX else "x", value)
    if isinstance(value, float):
        return Variant("d", value)
    return Variant("s", str(value))


def unwrap(value: Any) -> Value:
    """A received value: Variants unwrapped, an empty array (invalid) → None."""
    if isinstance(value, Variant):
        value = value.value
    if isinstance(value, list | tuple | dict):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    return None


def as_float(value: Value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


async def call(
    bus: MessageBus,
    destination: str,
    path: str,
    member: str,
    interface: str = BUSITEM,
    signature: str = "",
    body: list[Any] | None = None,
) -> list[Any]:
    """One method call; an error reply or a dead connection becomes ``LinkError``."""
    msg = Message(
        destination=destination,
        path=path,
        interface=interface,
        member=member,
        signature=signature,
        body=body or [],
    )
    try:
        reply = await bus.call(msg)
    except (OSError, DBusError, EOFError) as exc:
        raise LinkError(f"{destination}{path} {member}: {exc}") from exc
    if reply is None or reply.message_type is MessageType.ERROR:
        detail = reply.body[0] if reply and reply.body else "no reply"
        raise LinkError(f"{destination}{path} {member}: {reply and reply.error_name}: {detail}")
    return list(reply.body)


async def add_match(bus: MessageBus, rule: str) -> None:
    await call(bus, DBUS, "/org/freedesktop/DBus", "AddMatch", DBUS, "s", [rule])
