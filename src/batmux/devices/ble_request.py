"""Request/answer helper shared by the polled BLE families (JBD, Daly, ANT).

One overall deadline per sample: every step waits only for what is left of it, so a sample
never takes longer than the ``timeout`` the source asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from batmux.devices.ble_driver import BleDriver


def deadline_in(timeout: float) -> float:
    return asyncio.get_running_loop().time() + timeout


def left(deadline: float) -> float:
    return max(0.0, deadline - asyncio.get_running_loop().time())


class PolledBleDriver(BleDriver):
    """A driver that writes a request and collects the frames that answer it."""

    async def ask(
        self, request: bytes, accept: Callable[[bytes], bool], deadline: float, count: int = 1
    ) -> list[bytes]:
        """Send ``request``; return the first ``count`` frames that ``accept`` takes."""
        self.drain()
        await self.send(request)
        return [await self.next_frame(accept, left(deadline)) for _ in range(count)]
