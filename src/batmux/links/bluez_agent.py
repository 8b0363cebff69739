"""Bond a BlueZ device with a configured PIN: a short-lived ``org.bluez.Agent1`` answers it.

bleak 3.1's ``BleakClient.pair()`` calls ``Device1.Pair`` but registers no agent, so a device
that asks for a passkey or PIN code fails with ``AuthenticationFailed`` unless a desktop agent
happens to answer. bluetoothd asks the agent registered by the D-Bus connection that sent
``Pair`` (and only without one the default agent). So ``pair_with_pin`` opens its own
connection, exports an agent there, registers it (never as the default agent, so it cannot
answer other programs' pairings), sends ``Pair`` from that connection and unregisters.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

from batmux.links.ble import PairingFailed

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
CAPABILITY = "KeyboardOnly"  # we can type a PIN, we have no display to show or compare one
ERR_REJECTED = "org.bluez.Error.Rejected"
ERR_ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"
_ids = itertools.count(1)


class PinAgent(ServiceInterface):
    """Answers bluetoothd's PIN and passkey questions with one configured PIN."""

    def __init__(self, pin: str) -> None:
        super().__init__("org.bluez.Agent1")
        self.pin = pin
        self.asked: list[str] = []  # which questions came, for logs and tests

    @dbus_method()
    def Release(self):
        return None

    @dbus_method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        self.asked.append("pincode")
        return self.pin

    @dbus_method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        self.asked.append("passkey")
        if not self.pin.isdigit() or int(self.pin) > 999_999:
            raise DBusError(ERR_REJECTED, "the configured pin is not a passkey (0..999999)")
        return int(self.pin)

    @dbus_method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr):
        return None

    @dbus_method()
    def DisplayPasskey(self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16):
        return None

    @dbus_method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32):
        # Only our own Pair reaches this agent; with no display, accept like Just Works.
        self.asked.append("confirmation")

    @dbus_method()
    def RequestAuthorization(self, device: DBusObjectPath):
        self.asked.append("authorization")

    @dbus_method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr):
        return None

    @dbus_method()
    def Cancel(self):
        log.debug("bluetoothd cancelled the agent request")


async def _call(bus: MessageBus, **fields: object) -> Message:
    reply = await bus.call(Message(destination=BLUEZ, **fields))  # type: ignore[arg-type]
    assert reply is not None
    return reply


def _error(reply: Message) -> str | None:
    if reply.message_type != MessageType.ERROR:
        return None
    detail = f" ({reply.body[0]})" if reply.body else ""
    return f"{reply.error_name}{detail}"


async def is_paired(bus: MessageBus, device_path: str) -> bool:
    reply = await _call(
        bus,
        path=device_path,
        interface="org.freedesktop.DBus.Properties",
        member="Get",
        signature="ss",
        body=["org.bluez.Device1", "Paired"],
    )
    if (error := _error(reply)) is not None:
        raise PairingFailed(f"pairing failed: cannot read Paired of {device_path}: {error}")
    value = reply.body[0]
    return bool(value.value if isinstance(value, Variant) else value)


async def pair_with_pin(device_path: str, pin: str, timeout: float = 30.0) -> bool:
    """Pair the device at ``device_path`` unless it is paired already.

    Returns True if a pairing took place. Raises ``PairingFailed`` (wrong PIN, refused,
    timed out, no BlueZ) and never leaves the agent registered.
    """
    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (OSError, ValueError, DBusError) as exc:
        raise PairingFailed(f"pairing failed: no system D-Bus: {exc}") from exc
    try:
        if await is_paired(bus, device_path):
            return False
        agent_path = f"/batmux/agent{next(_ids)}"
        agent = PinAgent(pin)
        bus.export(agent_path, agent)
        manager = {"path": "/org/bluez", "interface": "org.bluez.AgentManager1"}
        reply = await _call(
            bus, **manager, member="RegisterAgent", signature="os", body=[agent_path, CAPABILITY]
        )
        if (error := _error(reply)) is not None:
            raise PairingFailed(f"pairing failed: cannot register an agent: {error}")
        try:
            async with asyncio.timeout(timeout):
                reply = await _call(
                    bus, path=device_path, interface="org.bluez.Device1", member="Pair"
                )
        except TimeoutError as exc:
            raise PairingFailed(f"pairing failed: no answer within {timeout:.0f} s") from exc
        finally:
            with contextlib.suppress(DBusError, EOFError):
                await _call(
                    bus, **manager, member="UnregisterAgent", signature="o", body=[agent_path]
                )
        error = _error(reply)
        if error is not None and reply.error_name != ERR_ALREADY_EXISTS:
            asked = ", ".join(agent.asked) or "nothing"
            raise PairingFailed(f"pairing failed: {error}; agent was asked: {asked}; check pin:")
        log.info("%s: paired", device_path)
        return True
    finally:
        bus.disconnect()
