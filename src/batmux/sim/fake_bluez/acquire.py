"""``AcquireNotify`` and ``AcquireWrite``: notifications and write commands through a socket.

What bluetoothd does for a remote device's characteristic (``src/gatt-client.c``,
``doc/org.bluez.GattCharacteristic.rst``) and the fake copies:

* ``AcquireNotify(a{sv}) -> (h fd, q mtu)``: ``Failed`` "Not connected" without a link,
  ``NotPermitted`` "Notify acquired" when the socket is already out (to anyone),
  ``InProgress`` while any client holds a StartNotify session, ``NotSupported`` without the
  ``notify`` flag. ``AcquireWrite``: ``Failed``, ``NotPermitted`` "Write acquired",
  ``NotSupported`` without ``write-without-response``.
* The reply carries one end of ``socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK)`` and the
  ATT MTU (a packet holds at most ``mtu - 3`` bytes); then ``NotifyAcquired``/``WriteAcquired``
  turns true (PropertiesChanged). The properties exist only with those flags (``gatt.py``).
* Acquired notifications are one packet each (chunked by ``mtu - 3`` like the D-Bus path, same
  faults); ``Value`` and ``Notifying`` do not change. StartNotify and WriteValue are refused
  with ``NotPermitted`` while the socket is out.
* Each packet the client writes is one write command. One longer than ``mtu - 3`` does not fit
  an ATT PDU: bluetoothd cannot send it and drops it silently, so does the fake.
* The client closing its end releases the acquisition (the property turns false); StopNotify
  releases an acquired notify socket too. A disconnect closes bluetoothd's ends: the client
  reads EOF (POLLHUP), and no PropertiesChanged follows because the objects go away.

``acquire_reply_delay_s`` delays the reply (the socket is out from the call on), as a busy
bluetoothd does. Not copied: bluetoothd also forwards bytes written into a *notify* socket as
write commands; the fake ignores them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Literal

from dbus_fast import DBusError, Message

from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.gatt import GattCharacteristic1
from batmux.sim.fake_bluez.names import (
    ERR_FAILED,
    ERR_IN_PROGRESS,
    ERR_NOT_PERMITTED,
    ERR_NOT_SUPPORTED,
)
from batmux.sim.fake_bluez.notify import Notifications

log = logging.getLogger(__name__)

Kind = Literal["notify", "write"]
GATT_CHARACTERISTIC = "org.bluez.GattCharacteristic1"
ACQUIRE = {"AcquireNotify": "notify", "AcquireWrite": "write"}
PROPERTY = {"notify": "NotifyAcquired", "write": "WriteAcquired"}
RECV_MAX = 512  # bluetoothd reads write packets into a 512-byte buffer


class Acquisitions(Notifications):
    """Answers the two Acquire methods and owns bluetoothd's ends of the sockets."""

    acquisitions = 0  # sockets handed out (read by tests)
    acquire_reply_delay_s = 0.0  # a busy bluetoothd: the reply (and its socket) comes this late

    def _on_acquire(self, msg: Message) -> Message | bool | None:
        """The reply to an Acquire call (sent here: it passes a descriptor); None otherwise."""
        if msg.interface != GATT_CHARACTERISTIC or msg.member not in ACQUIRE:
            return None
        char = self._char_at(msg.path or "")
        if char is None:
            return None
        kind: Kind = "notify" if msg.member == "AcquireNotify" else "write"
        try:
            theirs = self._acquire(char, kind)
        except DBusError as exc:
            return Message.new_error(msg, exc.type, exc.text)
        assert self._bus is not None
        reply = Message.new_method_return(msg, "hq", [0, char.d.mtu], unix_fds=[theirs.fileno()])
        bus = self._bus

        def send() -> None:
            # dbus-fast writes the reply later and does not dup the descriptor: close ours then
            bus.send(reply).add_done_callback(lambda _sent: theirs.close())

        if self.acquire_reply_delay_s > 0:
            asyncio.get_running_loop().call_later(self.acquire_reply_delay_s, send)
        else:
            send()
        char.emit_properties_changed({PROPERTY[kind]: True})
        if kind == "notify":
            self._notify_started(char.d, char)
        return True

    def _char_at(self, path: str) -> GattCharacteristic1 | None:
        live = self._live.get(path.split("/service", 1)[0])
        for char_path, iface in live.gatt if live is not None else ():
            if char_path == path and isinstance(iface, GattCharacteristic1):
                return iface
        return None

    def _acquire(self, char: GattCharacteristic1, kind: Kind) -> socket.socket:
        device = char.d
        if not device.connected:
            raise DBusError(ERR_FAILED, "Not connected")
        self.pairing.require_bond(device)
        if kind == "notify":
            if char.notify_sock is not None:
                raise DBusError(ERR_NOT_PERMITTED, "Notify acquired")
            if char.notifying:
                raise DBusError(ERR_IN_PROGRESS, "In Progress")
            if "notify" not in char.flags:
                raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        else:
            if char.write_sock is not None:
                raise DBusError(ERR_NOT_PERMITTED, "Write acquired")
            if "write-without-response" not in char.flags:
                raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        theirs.setblocking(False)
        if kind == "notify":
            char.notify_sock = ours
        else:
            char.write_sock = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._on_readable, char, kind)
        self.acquisitions += 1
        return theirs

    def _on_readable(self, char: GattCharacteristic1, kind: Kind) -> None:
        sock = char.notify_sock if kind == "notify" else char.write_sock
        if sock is None:
            return
        try:
            data = sock.recv(RECV_MAX)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client closed its end (HUP)
            self._release(char, kind)
            return
        device = char.d
        if kind == "write" and device.connected and len(data) <= device.payload:
            self._write(device, char.spec.uuid, data)

    def _release(self, char: GattCharacteristic1, kind: Kind, announce: bool = True) -> None:
        sock = char.notify_sock if kind == "notify" else char.write_sock
        if sock is None:
            return
        if kind == "notify":
            char.notify_sock = None
        else:
            char.write_sock = None
        asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        if announce:
            char.emit_properties_changed({PROPERTY[kind]: False})

    def _send_notification(self, char: GattCharacteristic1, chunk: bytes) -> None:
        sock = char.notify_sock
        if sock is None:
            super()._send_notification(char, chunk)
            return
        try:
            sock.send(chunk)
        except BlockingIOError:
            log.debug("%s: notify socket full, notification dropped", char.d.address)
        except OSError as exc:  # the client's end is gone; its HUP releases the socket
            log.debug("%s: notify socket: %s", char.d.address, exc)

    def _close_sockets(self, device: FakeDevice) -> None:
        for char in self._live[device.path].chars.values():
            self._release(char, "notify", announce=False)
            self._release(char, "write", announce=False)
