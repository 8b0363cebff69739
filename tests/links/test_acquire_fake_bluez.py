"""AcquireNotify and AcquireWrite in the fake BlueZ, called over a real bus the way any BlueZ
client calls them: the flag rules and errors of bluetoothd, the socket (one packet per
notification or write command), the properties, and what closing the socket or losing the
link does."""

from __future__ import annotations

import asyncio
import os
import select
import socket
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from batmux.links import bluez_sockets
from batmux.links.ble import uuid16
from batmux.links.bluez_sockets import AcquireRefused
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.peripheral import CharSpec, SimDevice
from bluez_fixtures import call_char, seconds_until, sockets_out

MAC = "C8:47:8C:00:00:AC"
CHAR = "org.bluez.GattCharacteristic1"
STATUS, COMMAND, TRIGGER, LEVEL = (uuid16(n) for n in (0xFFF1, 0xFFF2, 0xFFF4, 0xFFF5))


class PanelDevice(SimDevice):
    notify_uuid = STATUS
    write_uuid = COMMAND
    characteristics = (
        CharSpec(STATUS, ("read", "notify")),
        CharSpec(COMMAND, ("write",)),
        CharSpec(TRIGGER, ("write-without-response",)),
        CharSpec(LEVEL, ("read", "indicate")),
    )

    def __init__(self) -> None:
        super().__init__(SimBattery())
        self.seen: list[tuple[str, bytes]] = []

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        self.seen.append((char_uuid, data))
        return [b"ack:" + data] if char_uuid == COMMAND else []

    def handle_read(self, char_uuid: str) -> bytes:
        return b"\x07"


@pytest.fixture
async def panel(fake_bluez: FakeBlueZ) -> AsyncIterator[tuple[PanelDevice, dict[str, str]]]:
    """A connected panel (through bleak, which uses StartNotify/WriteValue) and the D-Bus path
    of each characteristic."""
    sim = PanelDevice()
    fake_bluez.add_device(sim, MAC, "PANEL-A", service_uuid=uuid16(0xFFF0))
    found = await BleakScanner.find_device_by_address(MAC, timeout=3.0)
    assert found is not None
    async with BleakClient(found) as client:
        paths = {c.uuid: c.obj[0] for c in client.services.characteristics.values()}
        yield sim, paths


@pytest.fixture
async def bus() -> AsyncIterator[MessageBus]:
    bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
    try:
        yield bus
    finally:
        bus.disconnect()


async def call(bus: MessageBus, path: str, member: str, signature: str = "", body=()) -> Message:
    return await call_char(bus, path, member, signature, body)


async def acquire(bus: MessageBus, path: str, member: str) -> tuple[socket.socket, int]:
    reply = await call(bus, path, member, "a{sv}", [{}])
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    assert reply.signature == "hq" and len(reply.unix_fds) == 1
    return socket.socket(fileno=reply.unix_fds[reply.body[0]]), reply.body[1]


async def props(bus: MessageBus, path: str) -> dict[str, object]:
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface="org.freedesktop.DBus.Properties",
            member="GetAll",
            signature="s",
            body=[CHAR],
        )
    )
    assert reply is not None
    return {k: v.value for k, v in reply.body[0].items()}


def error_of(reply: Message) -> str | None:
    return reply.error_name if reply.message_type == MessageType.ERROR else None


async def packets(sock: socket.socket, count: int, timeout: float = 2.0) -> list[bytes]:
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            got.append(await loop.sock_recv(sock, 512))
    return got


async def test_properties_follow_the_flags(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    have = {uuid: await props(bus, path) for uuid, path in paths.items()}
    assert have[STATUS]["NotifyAcquired"] is False and "WriteAcquired" not in have[STATUS]
    assert have[TRIGGER]["WriteAcquired"] is False and "NotifyAcquired" not in have[TRIGGER]
    # indicate alone gives no NotifyAcquired (bluetoothd checks the notify flag)
    assert "NotifyAcquired" not in have[LEVEL] and "WriteAcquired" not in have[LEVEL]
    assert "NotifyAcquired" not in have[COMMAND] and "WriteAcquired" not in have[COMMAND]


async def test_acquired_notifications_arrive_as_packets(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    sock, mtu = await acquire(bus, paths[STATUS], "AcquireNotify")
    with sock:
        assert mtu == 23  # the ATT MTU; a packet holds mtu - 3 bytes
        assert (await props(bus, paths[STATUS]))["NotifyAcquired"] is True
        reply = await call(bus, paths[COMMAND], "WriteValue", "aya{sv}", [b"x" * 30, {}])
        assert error_of(reply) is None
        chunks = await packets(sock, 2)
        assert chunks == [b"ack:" + b"x" * 16, b"x" * 14]  # one packet per notification
        state = await props(bus, paths[STATUS])
        assert state["Notifying"] is False and state["Value"] == b""  # D-Bus stays quiet
        # the socket is out: a second acquire and StartNotify are refused
        again = await call(bus, paths[STATUS], "AcquireNotify", "a{sv}", [{}])
        assert error_of(again) == "org.bluez.Error.NotPermitted"
        start = await call(bus, paths[STATUS], "StartNotify")
        assert error_of(start) == "org.bluez.Error.NotPermitted"
    # closing our end releases it; then it can be acquired again
    await seconds_until(lambda: _released(fake_bluez), 2.0)
    assert (await props(bus, paths[STATUS]))["NotifyAcquired"] is False
    sock, _ = await acquire(bus, paths[STATUS], "AcquireNotify")
    sock.close()


def _released(fake: FakeBlueZ) -> bool:
    return not any(notify or write for notify, write in sockets_out(fake, MAC).values())


async def test_refusals(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    for uuid, member in [
        (LEVEL, "AcquireNotify"),  # indicate only
        (COMMAND, "AcquireNotify"),
        (COMMAND, "AcquireWrite"),  # write requests only
        (STATUS, "AcquireWrite"),
    ]:
        reply = await call(bus, paths[uuid], member, "a{sv}", [{}])
        assert error_of(reply) == "org.bluez.Error.NotSupported", (uuid, member)
    # a StartNotify session (anyone's) blocks AcquireNotify
    assert error_of(await call(bus, paths[STATUS], "StartNotify")) is None
    reply = await call(bus, paths[STATUS], "AcquireNotify", "a{sv}", [{}])
    assert error_of(reply) == "org.bluez.Error.InProgress"
    assert error_of(await call(bus, paths[STATUS], "StopNotify")) is None
    sock, _ = await acquire(bus, paths[STATUS], "AcquireNotify")
    # StopNotify releases an acquired socket: we read EOF
    assert error_of(await call(bus, paths[STATUS], "StopNotify")) is None
    assert await packets(sock, 1) == [b""]
    sock.close()
    assert (await props(bus, paths[STATUS]))["NotifyAcquired"] is False


async def test_acquired_writes_are_write_commands(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    sim, paths = panel
    sock, mtu = await acquire(bus, paths[TRIGGER], "AcquireWrite")
    with sock:
        assert mtu == 23
        assert (await props(bus, paths[TRIGGER]))["WriteAcquired"] is True
        sock.send(b"go")
        sock.send(b"y" * (mtu - 2))  # one byte too long for an ATT write command: dropped
        sock.send(b"z" * (mtu - 3))
        await seconds_until(lambda: len(sim.seen) >= 2, 2.0)
        reply = await call(bus, paths[TRIGGER], "WriteValue", "aya{sv}", [b"v", {}])
        assert error_of(reply) == "org.bluez.Error.NotPermitted"
        again = await call(bus, paths[TRIGGER], "AcquireWrite", "a{sv}", [{}])
        assert error_of(again) == "org.bluez.Error.NotPermitted"
    await seconds_until(lambda: _released(fake_bluez), 2.0)
    assert sim.seen == [(TRIGGER, b"go"), (TRIGGER, b"z" * 20)]
    assert fake_bluez.device(MAC).write_log[-1] == (TRIGGER, b"z" * 20)
    assert (await props(bus, paths[TRIGGER]))["WriteAcquired"] is False


async def test_link_loss_closes_the_sockets(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    notify, _ = await acquire(bus, paths[STATUS], "AcquireNotify")
    write, _ = await acquire(bus, paths[TRIGGER], "AcquireWrite")
    with notify, write:
        await fake_bluez.drop(MAC)
        for sock in (notify, write):
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            events = poller.poll(2000)
            assert events and events[0][1] & select.POLLHUP
            assert sock.recv(512) == b""


async def test_fake_keeps_no_descriptors(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        sock, _ = await acquire(bus, paths[STATUS], "AcquireNotify")
        sock.close()
        await seconds_until(lambda: _released(fake_bluez), 2.0)
    assert len(os.listdir("/proc/self/fd")) == before


async def test_value_property_untouched_while_acquired(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    _, paths = panel
    sock, _ = await acquire(bus, paths[STATUS], "AcquireNotify")
    with sock:
        assert await fake_bluez.notify(MAC, STATUS, b"pushed")
        assert await packets(sock, 1) == [b"pushed"]
    assert (await props(bus, paths[STATUS])).get("Value") == b""


async def test_a_reply_after_the_timeout_gives_its_socket_back(
    fake_bluez: FakeBlueZ, panel: tuple[PanelDevice, dict[str, str]], bus: MessageBus
) -> None:
    """bluetoothd answers after batmux gave up: the socket in that reply is closed, so the
    characteristic is released (else BlueZ refuses AcquireNotify and StartNotify alike until
    the link drops) and no descriptor stays open in the gateway."""
    _, paths = panel
    sock, _ = await bluez_sockets.acquire(paths[STATUS], "AcquireNotify")  # opens the shared bus
    sock.close()
    await seconds_until(lambda: _released(fake_bluez), 2.0)
    fds_before = len(os.listdir("/proc/self/fd"))
    fake_bluez.acquire_reply_delay_s = 0.4
    with pytest.raises(AcquireRefused, match="TimeoutError"):
        await bluez_sockets.acquire(paths[STATUS], "AcquireNotify", timeout=0.1)
    assert (await props(bus, paths[STATUS]))["NotifyAcquired"] is True  # out, reply on its way
    await seconds_until(lambda: _released(fake_bluez), 3.0)
    assert (await props(bus, paths[STATUS]))["NotifyAcquired"] is False
    assert len(os.listdir("/proc/self/fd")) == fds_before
    fake_bluez.acquire_reply_delay_s = 0.0
    sock, mtu = await bluez_sockets.acquire(paths[STATUS], "AcquireNotify")
    with sock:
        assert mtu == 23
