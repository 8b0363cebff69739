"""What the serial-port simulators (VE.Direct, wired BMS) share: the byte link they talk
through, and running one in a task until ``stop()``."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import Protocol


class ByteLink(Protocol):
    async def read(self, timeout: float) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class PortSimulator(ABC):
    """A device end on ``link``: ``start()`` runs ``_guarded()`` in a task, ``stop()`` ends it
    and closes the link."""

    link: ByteLink
    _task: asyncio.Task[None] | None = None

    @abstractmethod
    async def _guarded(self) -> None:
        """``run()``, ending quietly when the port goes away."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._guarded())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.link.close()
