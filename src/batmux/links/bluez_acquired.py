"""The acquired sockets of one BLE link: which characteristic goes through a socket, which
through D-Bus, and when to stop trying (the socket primitives are in ``bluez_sockets``).

``BleakLink`` asks this first and uses bleak when it answers "no": a characteristic without
``NotifyAcquired``/``WriteAcquired``, a refusal from BlueZ (remembered for the connection and
logged once at debug), a write request, or a write longer than one ATT write command.

BlueZ closing a socket means the device disconnected: ``on_lost`` is called, the same signal
as bleak's disconnected callback. Some peripherals lose notifications with AcquireNotify
(bleak issue 1885, pull request 1973; aiobmsble pull request 167): a notify socket that BlueZ
closes before its first notification, or that got none in a whole connection although
requests were sent, twice in a row (one is an ordinary drop between a request and its answer),
turns AcquireNotify off for this link (StartNotify from then on, until the gateway restarts;
logged at info). A notification through a socket clears the count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from batmux.errors import LinkError
from batmux.links.ble import NotifyCallback
from batmux.links.bluez_sockets import AcquiredSocket, AcquireRefused, acquire

log = logging.getLogger(__name__)

Kind = Literal["notify", "write"]
MEMBER = {"notify": "AcquireNotify", "write": "AcquireWrite"}
NOTIFY_FAILURES_TO_GIVE_UP = 2  # notify sockets in a row that delivered nothing


class LinkSockets:
    """The acquired sockets of one link's current connection (``reset`` between connections)."""

    def __init__(self, name: str, on_lost: Callable[[], None], enabled: bool = True) -> None:
        self.name = name
        self.notify_enabled = enabled  # AcquireNotify first (off for good once it failed us twice)
        self.write_enabled = enabled  # AcquireWrite first for write commands
        self._on_lost = on_lost
        self._sockets: dict[str, AcquiredSocket] = {}  # "notify:<path>" / "write:<path>"
        self._refused: set[str] = set()  # acquisitions refused on this connection
        # (uuid, response) → write socket, or None for WriteValue, on this connection
        self._write_routes: dict[tuple[str, bool | None], AcquiredSocket | None] = {}
        self._explained: set[str] = set()  # why-not reasons logged once
        self._writes_since_notify = 0
        self._notify_failures = 0  # notify sockets in a row that delivered nothing

    # -- what BleakLink calls ---------------------------------------------------------------
    async def start_notify(self, client: Any, char_uuid: str, callback: NotifyCallback) -> bool:
        """True when notifications of ``char_uuid`` now arrive through a socket."""
        if not self.notify_enabled:
            return False
        path = self._path(client, char_uuid, "NotifyAcquired")
        if path is None or await self._acquire(path, "notify", callback) is None:
            return False
        self._writes_since_notify = 0
        return True

    def stop_notify(self, client: Any, char_uuid: str) -> bool:
        """True when ``char_uuid`` had a notify socket (now closed: that releases it)."""
        path = self._path(client, char_uuid, "NotifyAcquired", explain=False)
        sock = self._sockets.pop(f"notify:{path}", None)
        if sock is None:
            return False
        sock.close()
        return True

    async def write(self, client: Any, char_uuid: str, data: bytes, response: bool | None) -> bool:
        """True when ``data`` went out as one write command through a socket."""
        self._writes_since_notify += 1
        sock = await self._write_socket(client, char_uuid, response)
        if sock is None or not 0 < len(data) <= sock.max_write:
            return False  # longer than one ATT write command: WriteValue, as before
        try:
            await sock.send(bytes(data))
        except OSError as exc:  # BlueZ closed its end: the link is gone
            self._on_lost()
            raise LinkError(f"write {char_uuid}: {exc}") from exc
        return True

    def reset(self) -> None:
        """Close every socket (the connection ends); refusals are forgotten."""
        for key, sock in self._sockets.items():
            if key.startswith("notify:"):
                if sock.packets:
                    self._notify_failures = 0
                elif self._writes_since_notify:
                    self._notify_failed("no notification arrived after a request")
            sock.close()
        self._sockets.clear()
        self._refused.clear()
        self._write_routes.clear()

    # -- the rest -----------------------------------------------------------------------------
    def _explain_once(self, why: str) -> None:
        if why not in self._explained:
            self._explained.add(why)
            log.debug("%s: using D-Bus: %s", self.name, why)

    def _path(self, client: Any, char_uuid: str, prop: str, explain: bool = True) -> str | None:
        """The characteristic's D-Bus path when BlueZ lists ``prop`` on it (bleak keeps the
        path and the properties in ``characteristic.obj``), else None."""
        try:
            char = client.services.get_characteristic(char_uuid)
        except Exception:  # several characteristics with this UUID: bleak decides
            char = None
        obj = getattr(char, "obj", None)
        if not (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], dict)):
            if explain:
                self._explain_once(f"{char_uuid}: no BlueZ characteristic object")
            return None
        if prop not in obj[1]:
            if explain:
                self._explain_once(f"{char_uuid} has no {prop} (flags {char.properties})")
            return None
        return str(obj[0])

    async def _acquire(
        self, path: str, kind: Kind, callback: NotifyCallback | None = None
    ) -> AcquiredSocket | None:
        key = f"{kind}:{path}"
        old = self._sockets.pop(key, None)
        if old is not None:
            old.close()
        if key in self._refused:
            return None
        try:
            sock, mtu = await acquire(path, MEMBER[kind])
        except AcquireRefused as exc:
            self._refused.add(key)
            self._explain_once(str(exc))
            return None
        acquired = AcquiredSocket(sock, mtu, callback, self._closed_by_bluez)
        self._sockets[key] = acquired
        return acquired

    async def _write_socket(
        self, client: Any, char_uuid: str, response: bool | None
    ) -> AcquiredSocket | None:
        if not self.write_enabled or response:
            return None
        route = (char_uuid, response)
        if route in self._write_routes:  # decided on this connection already: no lookups
            sock = self._write_routes[route]
            if sock is None or not sock.closed:
                return sock
        sock = await self._pick_write_socket(client, char_uuid, response)
        self._write_routes[route] = sock
        return sock

    async def _pick_write_socket(
        self, client: Any, char_uuid: str, response: bool | None
    ) -> AcquiredSocket | None:
        path = self._path(client, char_uuid, "WriteAcquired")
        if path is None:
            return None
        if response is None:  # bleak's rule: a request when the characteristic takes one
            char = client.services.get_characteristic(char_uuid)
            if char is None or "write" in char.properties:
                return None
        sock = self._sockets.get(f"write:{path}")
        if sock is not None:
            return sock
        return await self._acquire(path, "write")

    def _closed_by_bluez(self, sock: AcquiredSocket) -> None:
        key = next((k for k, v in self._sockets.items() if v is sock), None)
        if key is None:
            return  # not this connection's
        del self._sockets[key]
        if key.startswith("notify:"):
            if sock.packets:
                self._notify_failures = 0
            else:
                self._notify_failed("BlueZ closed it before the first notification")
        log.debug("%s: BlueZ closed the %s socket: link lost", self.name, key.split(":")[0])
        self._on_lost()

    def _notify_failed(self, why: str) -> None:
        self._notify_failures += 1
        if self._notify_failures >= NOTIFY_FAILURES_TO_GIVE_UP and self.notify_enabled:
            self.notify_enabled = False
            log.info("%s: acquired notifications failed (%s); using StartNotify", self.name, why)
