"""Request/answer helper shared by the polled BLE families (JBD, Daly, ANT).

One overall deadline per sample: every step waits only for what is left of it, so a sample
never takes longer than the ``timeout`` the source asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from batmux.devices.ble_driver import BleDriver
from batmux.errors import CorruptFrame, LinkTimeout

ASKS = 3  # requests per answer at most: a corrupt or missing answer is asked for again


def deadline_in(timeout: float) -> float:
    return asyncio.get_running_loop().time() + timeout


def left(deadline: float) -> float:
    return max(0.0, deadline - asyncio.get_running_loop().time())


class PolledBleDriver(BleDriver):
    """A driver that writes a request and collects the frames that answer it."""

    async def ask(
        self,
        request: bytes,
        accept: Callable[[bytes], bool],
        deadline: float,
        count: int = 1,
        asks: int = ASKS,
    ) -> list[bytes]:
        """Send ``request``; return the first ``count`` frames that ``accept`` takes.

        The time left is shared out over up to ``asks`` requests. A corrupt frame in the answer
        sends the request again at once, and silence for an attempt's share sends it again
        too, so one bad or lost notification costs a round trip, not the whole timeout. A
        corrupt answer to the last request fails the sample at once (``CorruptFrame``)."""
        for attempt in range(asks - 1):
            until = deadline_in(left(deadline) / (asks - attempt))
            with contextlib.suppress(CorruptFrame, LinkTimeout):
                return await self._ask_once(request, accept, until, count)
        return await self._ask_once(request, accept, deadline, count)

    async def _ask_once(
        self, request: bytes, accept: Callable[[bytes], bool], until: float, count: int
    ) -> list[bytes]:
        self.drain()
        await self.send(request)
        return [
            await self.next_frame(accept, left(until), stop_on_corrupt=True) for _ in range(count)
        ]
