"""``adapter: auto``: one ``BleLink`` over several paths (local adapter, ESPHome proxies).

Each connect ranks the paths (the first one, with nothing heard yet, listens up to
``listen_s`` for every online proxy to hear the device): the ones that hear the device now,
strongest RSSI first, and of the proxies only those with a free connection slot; then the
paths with unknown RSSI (a local adapter learns the RSSI only while it scans, so it ranks after
a proxy that hears the device, and is tried when none does). A path that fails
``fail_over_after`` connects in a row is benched for ``bench_s`` and the next one is tried; a
path that drops stays eligible (a reconnect re-ranks, so when a proxy goes away the battery
moves to the next path that hears it). A connection that is dropped or torn down before a
single notification or read came through counts as a failed connect too (a proxy that
connects but does not deliver). ``path`` and ``rssi`` say where the battery is connected, for
the diagnostics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from batmux.errors import LinkError
from batmux.links.ble import BleLink, NotifyCallback
from batmux.links.link_lost import LinkLost

log = logging.getLogger(__name__)


def path_name(link: Any) -> str:
    """``proxy:<name>`` for a proxy link, else the adapter (``hci0`` when unspecified)."""
    return getattr(link, "path", None) or getattr(link, "adapter", None) or "hci0"


class AutoLink:
    """Chooses among ``paths`` (links to the same device) at every connect."""

    def __init__(
        self,
        address: str,
        paths: Sequence[BleLink],
        fail_over_after: int = 3,
        bench_s: float = 300.0,
        listen_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not paths:
            raise ValueError("AutoLink needs at least one path")
        self.address = address
        self.paths = list(paths)
        self.fail_over_after = fail_over_after
        self.bench_s = bench_s
        self.listen_s = listen_s  # before a choice with nothing heard yet
        self._clock = clock
        self.current: BleLink = self.paths[0]
        self.failures: dict[str, int] = {}
        self.benched_until: dict[str, float] = {}
        self._silent = False  # connected, and no notification or read came through yet
        self._idle_lost = LinkLost()

    # -- diagnostics -------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return path_name(self.current)

    @property
    def rssi(self) -> int | None:
        return getattr(self.current, "rssi", None)

    @property
    def lost(self) -> LinkLost:
        lost = getattr(self.current, "lost", None)
        return lost if isinstance(lost, LinkLost) else self._idle_lost

    # -- choice ------------------------------------------------------------------------------
    def _has_slot(self, link: BleLink) -> bool:
        proxy = getattr(link, "proxy", None)
        return proxy is None or proxy.free != 0  # None: not reported yet

    @staticmethod
    def _offline(link: BleLink) -> bool:
        proxy = getattr(link, "proxy", None)
        return proxy is not None and not proxy.online

    def ranked(self) -> list[BleLink]:
        """The eligible paths, best first."""
        now = self._clock()
        eligible = [p for p in self.paths if self.benched_until.get(path_name(p), 0.0) <= now]
        if not eligible:  # everything benched: try them all again rather than nothing
            self.benched_until.clear()
            eligible = list(self.paths)
        heard = [p for p in eligible if getattr(p, "rssi", None) is not None and self._has_slot(p)]
        heard.sort(key=lambda p: -getattr(p, "rssi", -999))
        unknown = [p for p in eligible if getattr(p, "rssi", None) is None]
        unknown.sort(key=self._offline)  # an online proxy may hear it soon; an offline one won't
        full = [p for p in eligible if p not in heard and p not in unknown]
        return heard + unknown + full

    # -- BleLink -----------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self.current.is_connected

    async def _listen(self, timeout: float) -> None:
        """Start every path's proxy and give the online ones up to ``listen_s`` to hear the
        device, so the first choice is by RSSI and not by config order."""
        proxies = [p for p in self.paths if getattr(p, "proxy", None) is not None]
        for path in proxies:
            path.proxy.start()  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.listen_s, timeout / 2)
        while loop.time() < deadline:
            online = [p for p in proxies if p.proxy.online]  # type: ignore[attr-defined]
            if online and all(getattr(p, "rssi", None) is not None for p in online):
                return
            await asyncio.sleep(0.05)

    def _failed(self, name: str) -> None:
        failures = self.failures[name] = self.failures.get(name, 0) + 1
        if failures >= self.fail_over_after and len(self.paths) > 1:
            self.benched_until[name] = self._clock() + self.bench_s
            self.failures[name] = 0
            log.warning(
                "%s: %d failed connections via %s; failing over for %.0f s",
                self.address,
                failures,
                name,
                self.bench_s,
            )

    async def connect(self, timeout: float = 20.0) -> None:
        await self.current.disconnect()
        if self._silent:
            # connected, yet not one byte came through before this reconnect: a path that
            # connects but does not deliver (a flaky proxy) fails like one that cannot connect
            self._failed(path_name(self.current))
            self._silent = False
        if all(getattr(p, "rssi", None) is None for p in self.paths):
            await self._listen(timeout)
        choice = self.ranked()[0]
        name = path_name(choice)
        if choice is not self.current:
            log.info(
                "%s: using path %s (RSSI %s)", self.address, name, getattr(choice, "rssi", None)
            )
            self.current = choice
        try:
            await choice.connect(timeout)
        except LinkError:
            self._failed(name)
            raise
        self._silent = True

    async def disconnect(self) -> None:
        await self.current.disconnect()

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        def delivered(data: bytes) -> None:
            self._delivered()
            callback(data)

        await self.current.start_notify(char_uuid, delivered)

    async def stop_notify(self, char_uuid: str) -> None:
        await self.current.stop_notify(char_uuid)

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        await self.current.write(char_uuid, data, response)

    async def read(self, char_uuid: str) -> bytes:
        data = await self.current.read(char_uuid)
        self._delivered()
        return data

    def _delivered(self) -> None:
        if self._silent:  # the path works: its failures start over
            self._silent = False
            self.failures[self.path] = 0
