"""Notifications and write commands through BlueZ's acquired sockets instead of D-Bus messages.

``GattCharacteristic1.AcquireNotify`` / ``AcquireWrite`` (``options a{sv}`` → ``fd h, mtu q``)
hand out one end of a ``SOCK_SEQPACKET`` socket pair: every notification arrives as one packet,
every packet written is one write command (write without response). Per battery-sample that
replaces two ``WriteValue`` calls and 4–5 ``PropertiesChanged`` signals, each marshalled by
bluetoothd, routed by dbus-daemon and unmarshalled and matched by bleak, with a ``recv`` and a
``send`` (docs/ble-link.md, "Acquired sockets").

What BlueZ promises and this module relies on (doc/org.bluez.GattCharacteristic.rst and
src/gatt-client.c):

* ``NotifyAcquired`` / ``WriteAcquired`` exist only on a characteristic with the ``notify`` /
  ``write-without-response`` flag; without them the call answers ``NotSupported``.
* ``NotPermitted`` when the socket is already out; AcquireNotify answers ``InProgress`` while
  any client has a StartNotify session, and StartNotify ``NotPermitted`` while acquired;
  ``Failed`` when not connected.
* ``mtu`` is the ATT MTU: a notification carries at most ``mtu - 3`` bytes, and a write packet
  longer than ``mtu - 3`` is dropped by bluetoothd without an error (so longer writes go
  through ``WriteValue``, which answers ``Failed`` for them, as before).
* Closing our descriptor releases the acquisition; bluetoothd closes its end when the device
  disconnects (we read EOF / POLLHUP), and on reconnection the MTU is renegotiated, so a
  socket never outlives its connection.

The calls go through one dbus-fast connection per process (``shared_bus``) that negotiates
unix fd passing; bleak's own connection per client is private to bleak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
from collections.abc import Callable
from typing import ClassVar

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from batmux.errors import LinkError

log = logging.getLogger(__name__)

ATT_MAX_VALUE = 512  # no attribute value is longer; a packet never is either


class AcquireRefused(LinkError):
    """BlueZ (or the bus) refused an acquisition; the caller uses D-Bus instead."""


class SharedBus:
    """One system-bus connection with unix fd passing for the event loop, opened lazily and
    reopened after the bus went away (dbus-daemon restart)."""

    _buses: ClassVar[dict[int, MessageBus]] = {}
    _locks: ClassVar[dict[int, asyncio.Lock]] = {}
    _watchers: ClassVar[set[asyncio.Future[None]]] = set()

    @classmethod
    async def get(cls) -> MessageBus:
        key = id(asyncio.get_running_loop())
        lock = cls._locks.setdefault(key, asyncio.Lock())
        async with lock:
            bus = cls._buses.get(key)
            if bus is not None and bus.connected:
                return bus
            cls._forget_other_loops(key)
            bus = MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
            try:
                await bus.connect()
            except BaseException:
                with contextlib.suppress(Exception):
                    bus.disconnect()
                raise
            cls._buses[key] = bus
            cls._watch(bus)
            return bus

    @classmethod
    def _watch(cls, bus: MessageBus) -> None:
        """Collect how the connection ended (else asyncio logs "exception never retrieved"
        when dbus-daemon goes away)."""
        watcher = asyncio.ensure_future(bus.wait_for_disconnect())
        cls._watchers.add(watcher)

        def ended(future: asyncio.Future[None]) -> None:
            cls._watchers.discard(future)
            if not future.cancelled() and future.exception() is not None:
                log.debug("shared bus: %s", future.exception() or "closed")

        watcher.add_done_callback(ended)

    @classmethod
    def _forget_other_loops(cls, key: int) -> None:
        """Drop the buses of loops that are gone (tests run one loop per test)."""
        for other in [k for k in cls._buses if k != key]:
            with contextlib.suppress(Exception):
                cls._buses[other].disconnect()
            del cls._buses[other]
            cls._locks.pop(other, None)


async def acquire(path: str, member: str, timeout: float = 10.0) -> tuple[socket.socket, int]:
    """Call ``member`` (AcquireNotify or AcquireWrite) on the characteristic at ``path``; return
    the socket and the ATT MTU, or raise ``AcquireRefused`` with BlueZ's reason."""
    message = Message(
        destination="org.bluez",
        path=path,
        interface="org.bluez.GattCharacteristic1",
        member=member,
        signature="a{sv}",
        body=[{}],
    )
    try:
        bus = await SharedBus.get()
        call = asyncio.ensure_future(bus.call(message))
        try:
            async with asyncio.timeout(timeout):
                reply = await asyncio.shield(call)
        except BaseException:
            call.add_done_callback(_close_unclaimed)  # BlueZ may still answer, with a socket
            raise
    except Exception as exc:  # no bus, bus gone, timed out: D-Bus is the way then
        raise AcquireRefused(f"{member}: {type(exc).__name__}: {exc}") from exc
    if reply is None:
        raise AcquireRefused(f"{member}: no reply")
    fds = list(reply.unix_fds)
    if reply.message_type == MessageType.ERROR:
        for fd in fds:
            socket.close(fd)
        detail = reply.body[0] if reply.body else ""
        raise AcquireRefused(f"{member}: {reply.error_name} {detail}".rstrip())
    if reply.signature != "hq" or len(fds) != 1:
        for fd in fds:
            socket.close(fd)
        raise AcquireRefused(f"{member}: unexpected reply {reply.signature!r}")
    sock = socket.socket(fileno=fds[0])
    sock.setblocking(False)
    return sock, int(reply.body[1])


def _close_unclaimed(call: asyncio.Future[Message | None]) -> None:
    """Close the socket of a reply nobody waits for any more (it came after the timeout or a
    cancel). Left open, it would keep the characteristic acquired: BlueZ then refuses
    AcquireNotify and StartNotify alike until the link drops, and the descriptor is never
    closed at all."""
    if call.cancelled() or call.exception() is not None:
        return
    reply = call.result()
    for fd in reply.unix_fds if reply is not None else ():
        socket.close(fd)


class AcquiredSocket:
    """One acquired socket, watched by the event loop: ``on_packet`` gets every packet (the
    notify side), ``on_closed`` is called once when BlueZ closes its end (the link is gone)."""

    def __init__(
        self,
        sock: socket.socket,
        mtu: int,
        on_packet: Callable[[bytes], None] | None,
        on_closed: Callable[[AcquiredSocket], None],
    ) -> None:
        self.sock = sock
        self.mtu = mtu
        self.packets = 0
        self._on_packet = on_packet
        self._on_closed = on_closed
        self._loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._loop.add_reader(self._fd, self._on_readable)

    @property
    def max_write(self) -> int:
        return self.mtu - 3

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def _on_readable(self) -> None:
        recv = self.sock.recv
        size = max(ATT_MAX_VALUE, self.mtu)  # a SEQPACKET read cuts what does not fit
        while True:  # drain: several notifications may be queued by now
            try:
                data = recv(size)
            except BlockingIOError:
                return
            except OSError as exc:
                log.debug("acquired socket: %s", exc)
                self._end()
                return
            if not data and self._hung_up():
                self._end()
                return
            self.packets += 1
            if self._on_packet is not None:
                self._on_packet(data)

    def _hung_up(self) -> bool:
        """An empty read is EOF or an empty notification; POLLHUP tells them apart."""
        poller = select.poll()
        poller.register(self._fd, select.POLLHUP)
        return bool(poller.poll(0))

    def _end(self) -> None:
        if self.closed:
            return
        self.close()
        self._on_closed(self)

    async def send(self, data: bytes) -> None:
        """One write command (the caller keeps ``data`` within ``max_write``)."""
        if self.closed:
            raise LinkError("acquired write socket is closed")
        await self._loop.sock_sendall(self.sock, data)

    def close(self) -> None:
        """Release the acquisition (BlueZ sees our end close)."""
        if self.closed:
            return
        with contextlib.suppress(Exception):  # the loop may be closed already
            self._loop.remove_reader(self._fd)
        self.sock.close()
        self._fd = -1
