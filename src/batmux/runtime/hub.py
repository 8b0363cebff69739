"""The hub between core and sinks: the latest state of every battery/group, plus change feeds.

Each publish period the runtime calls ``publish()`` once with every battery and group; every
sink has its own bounded queue so a slow sink drops old snapshots instead of stalling the rest.
Sinks that need "the latest" at any moment (a Modbus server answering a read) call ``latest()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from batmux.model.state import BatteryState

Snapshot = dict[str, BatteryState]


class StateHub:
    def __init__(self) -> None:
        self._latest: Snapshot = {}
        self._queues: list[asyncio.Queue[Snapshot]] = []

    def publish(self, states: Iterable[BatteryState]) -> None:
        for state in states:
            self._latest[state.name] = state
        snapshot = dict(self._latest)
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()  # drop the oldest snapshot; the newest one wins
            queue.put_nowait(snapshot)

    def latest(self, name: str) -> BatteryState | None:
        return self._latest.get(name)

    def snapshot(self) -> Snapshot:
        return dict(self._latest)

    async def updates(self) -> AsyncIterator[Snapshot]:
        """Yield a snapshot after every publish (the current one first, if any)."""
        queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=2)
        self._queues.append(queue)
        try:
            if self._latest:
                queue.put_nowait(dict(self._latest))
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)
