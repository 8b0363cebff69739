"""Helpers for the zero-export device tests: a clock that jumps, and waiting on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class JumpClock:
    """Injected ``Clock``: ``sleep`` moves time on at once, so 60 s of retries take milliseconds.

    Several device loops may share it; each sleep still yields to the event loop, so real
    HTTP on loopback interleaves with simulated time.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0.001)


async def until(check: Callable[[], bool], clock: JumpClock, within_s: float) -> float:
    """Wait until ``check()``; fail if simulated time passes ``within_s`` first. Returns the
    simulated seconds it took."""
    start = clock.now()
    async with asyncio.timeout(10):
        while not check():
            if clock.now() - start > within_s:
                raise AssertionError(f"not within {within_s} s (simulated)")
            await asyncio.sleep(0.001)
    return clock.now() - start
