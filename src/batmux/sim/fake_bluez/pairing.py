"""Pairing for the fake BlueZ: ``AgentManager1`` and ``Device1.Pair`` answered like bluetoothd.

bluetoothd asks the agent registered by the D-Bus connection that sent ``Pair`` (else the
default agent): ``RequestPasskey`` for LE passkey entry, ``RequestPinCode`` for legacy PIN
pairing. The right answer sets ``Paired`` and ``Bonded`` (PropertiesChanged before the reply,
as bleak expects); a wrong answer, a refused question or no agent at all gives
``org.bluez.Error.AuthenticationFailed``; ``Pair`` on a paired device gives ``AlreadyExists``.
A device with a ``pin`` refuses GATT access until it is paired, like a characteristic that
needs an encrypted link (ATT error 0x05). A device without a ``pin`` pairs "Just Works".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbus_fast import DBusError, Message, MessageType
from dbus_fast.annotations import DBusObjectPath, DBusStr
from dbus_fast.service import ServiceInterface, dbus_method

if TYPE_CHECKING:
    from batmux.sim.fake_bluez.device import FakeDevice
    from batmux.sim.fake_bluez.device_iface import Device1
    from batmux.sim.fake_bluez.service import FakeBlueZ

log = logging.getLogger(__name__)

MANAGER_PATH = "/org/bluez"
AGENT_MANAGER = "org.bluez.AgentManager1"
ERR_AUTH_FAILED = "org.bluez.Error.AuthenticationFailed"
ERR_ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERR_INSUFFICIENT_AUTH = "org.bluez.Error.Failed"
AGENT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Agent:
    owner: str  # unique bus name of the connection that registered it
    path: str
    capability: str


class AgentManager1(ServiceInterface):
    """Exported at ``/org/bluez`` so the object exists; the calls are answered in
    ``FakePairing.on_message`` because they need the caller's bus name."""

    def __init__(self) -> None:
        super().__init__(AGENT_MANAGER)

    @dbus_method()
    def RegisterAgent(self, agent: DBusObjectPath, capability: DBusStr):
        return None

    @dbus_method()
    def UnregisterAgent(self, agent: DBusObjectPath):
        return None

    @dbus_method()
    def RequestDefaultAgent(self, agent: DBusObjectPath):
        return None


class FakePairing:
    """Registered agents and the Pair ceremony of one ``FakeBlueZ``."""

    def __init__(self, bluez: FakeBlueZ) -> None:
        self._bluez = bluez
        self.manager = AgentManager1()
        self.agents: dict[str, Agent] = {}  # by owner
        self.default_owner: str | None = None

    # -- routing (called from FakeBlueZ._on_message) ----------------------------------------
    def on_message(self, msg: Message) -> Message | bool | None:
        if msg.path == MANAGER_PATH and msg.interface == AGENT_MANAGER:
            return self._manage(msg)
        if msg.interface == "org.bluez.Device1" and msg.member == "Pair":
            device = self._bluez.devices.get(msg.path or "")
            iface = self._bluez._live[device.path].device if device else None
            if device is None or iface is None:
                return Message.new_error(msg, ERR_DOES_NOT_EXIST, "Does Not Exist")
            self._bluez._spawn(device, self._pair(msg, device, iface))
            return True  # answered by _pair
        return None

    def _manage(self, msg: Message) -> Message:
        owner = msg.sender or ""
        path = msg.body[0] if msg.body else ""
        agent = self.agents.get(owner)
        if msg.member == "RegisterAgent":
            if agent is not None:
                return Message.new_error(msg, ERR_ALREADY_EXISTS, "Already Exists")
            self.agents[owner] = Agent(owner, path, msg.body[1])
        elif agent is None or agent.path != path:
            return Message.new_error(msg, ERR_DOES_NOT_EXIST, "Does Not Exist")
        elif msg.member == "UnregisterAgent":
            self.client_gone(owner)
        elif msg.member == "RequestDefaultAgent":
            self.default_owner = owner
        return Message.new_method_return(msg)

    def client_gone(self, owner: str) -> None:
        self.agents.pop(owner, None)
        if self.default_owner == owner:
            self.default_owner = None

    def require_bond(self, device: FakeDevice) -> None:
        if device.pin is not None and not device.paired:
            raise DBusError(ERR_INSUFFICIENT_AUTH, "Operation failed with ATT error: 0x05")

    # -- the ceremony -----------------------------------------------------------------------
    async def _pair(self, msg: Message, device: FakeDevice, iface: Device1) -> None:
        bus = self._bluez._bus
        assert bus is not None
        device.pair_attempts += 1
        try:
            if device.paired:
                raise DBusError(ERR_ALREADY_EXISTS, "Already Exists")
            if not device.connected:
                await self._bluez._connect(iface)
            if device.pin is not None:
                await self._ask_agent(msg.sender or "", device)
        except DBusError as exc:
            bus.send(exc._as_message(msg))
            return
        device.paired = True
        iface.emit_properties_changed({"Paired": True, "Bonded": True})
        bus.send(Message.new_method_return(msg))

    async def _ask_agent(self, caller: str, device: FakeDevice) -> None:
        agent = self.agents.get(caller) or self.agents.get(self.default_owner or "")
        if agent is None:
            raise DBusError(ERR_AUTH_FAILED, "Authentication Failed (no agent)")
        passkey = device.pairing == "passkey"
        assert self._bluez._bus is not None
        try:
            async with asyncio.timeout(AGENT_TIMEOUT_S):
                reply = await self._bluez._bus.call(
                    Message(
                        destination=agent.owner,
                        path=agent.path,
                        interface="org.bluez.Agent1",
                        member="RequestPasskey" if passkey else "RequestPinCode",
                        signature="o",
                        body=[device.path],
                    )
                )
        except TimeoutError as exc:
            raise DBusError("org.bluez.Error.AuthenticationTimeout", "Timeout") from exc
        if reply is None or reply.message_type == MessageType.ERROR or not reply.body:
            raise DBusError(ERR_AUTH_FAILED, "Authentication Failed (agent refused)")
        expected = int(device.pin) if passkey and device.pin.isdigit() else device.pin
        if reply.body[0] != expected:
            log.debug("%s: wrong %s from the agent", device.address, device.pairing)
            raise DBusError(ERR_AUTH_FAILED, "Authentication Failed")
