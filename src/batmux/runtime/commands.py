"""Switch commands to a BMS: the latest wish wins, writes are spaced, replaced wishes counted.

A flood of ON/OFF on a command topic (5,001 messages from a looping automation) used to queue
one FET write each, about an hour and a half of switching at a second per write. Here each
(battery, switch) keeps only its latest wish; one writer per battery sends it, and waits at
least ``MIN_WRITE_INTERVAL_S`` after a write ends before the next write to that BMS starts
(also between its charge and discharge switches). Wishes replaced before they were sent are
counted and named in the one log line of the next write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from batmux.errors import BatmuxError

log = logging.getLogger(__name__)

# A FET switch every 2 s at most per BMS: far above what a person or an automation needs, and
# far below what wears a contactor or confuses a BMS that re-reads its settings after a write.
MIN_WRITE_INTERVAL_S = 2.0

Write = Callable[[str, str, bool], Awaitable[None]]


class SwitchCommands:
    """``submit()`` from any caller; ``run()`` (one writer task per battery) does the writes."""

    def __init__(
        self,
        batteries: Iterable[str],
        write: Write,
        on_written: Write | None = None,
        min_interval_s: float = MIN_WRITE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._on_written = on_written
        self.min_interval_s = min_interval_s
        self._clock = clock
        names = list(batteries)
        # battery → switch → latest wish, in the order the switches were first asked for
        self._wishes: dict[str, dict[str, bool]] = {n: {} for n in names}
        self._replaced: dict[str, dict[str, int]] = {n: {} for n in names}
        # callers that wait for the outcome (the web's switch): answered by the write that
        # carries the latest wish for their switch, replaced or not
        self._waiters: dict[str, dict[str, list[asyncio.Future[bool]]]] = {n: {} for n in names}
        self._wake = {n: asyncio.Event() for n in names}
        self._last_write_end: dict[str, float] = {}
        self.submitted = 0
        self.writes = 0
        self.replaced = 0  # wishes overwritten by a newer one before they were sent
        self.failed = 0

    def submit(
        self, battery: str, switch: str, on: bool, waiter: asyncio.Future[bool] | None = None
    ) -> None:
        """Queue a wish; a pending wish for the same switch is replaced (and counted).
        ``waiter`` gets the value written for that switch, or the write's error."""
        if waiter is not None:
            self._waiters[battery].setdefault(switch, []).append(waiter)
        wishes = self._wishes[battery]
        if switch in wishes:
            self.replaced += 1
            counts = self._replaced[battery]
            counts[switch] = counts.get(switch, 0) + 1
        wishes[switch] = on
        self.submitted += 1
        self._wake[battery].set()

    @property
    def batteries(self) -> frozenset[str]:
        return frozenset(self._wishes)

    def pending(self, battery: str) -> dict[str, bool]:
        return dict(self._wishes[battery])

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for battery in self._wishes:
                tg.create_task(self._writer(battery), name=f"switch:{battery}")

    async def _writer(self, battery: str) -> None:
        wishes, wake = self._wishes[battery], self._wake[battery]
        while True:
            if not wishes:
                wake.clear()
                await wake.wait()
                continue
            last = self._last_write_end.get(battery)
            if last is not None:
                wait = last + self.min_interval_s - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)  # wishes arriving meanwhile replace the pending one
            switch = next(iter(wishes))
            on = wishes.pop(switch)
            replaced = self._replaced[battery].pop(switch, 0)
            waiters = self._waiters[battery].pop(switch, [])
            error = await self._send(battery, switch, on, replaced)
            for waiter in waiters:
                if waiter.done():
                    continue  # the caller stopped waiting
                if error is None:
                    waiter.set_result(on)
                else:
                    waiter.set_exception(error)

    async def _send(
        self, battery: str, switch: str, on: bool, replaced: int
    ) -> BaseException | None:
        """Write one wish; returns the write's error, or None when it was written."""
        word = "ON" if on else "OFF"
        note = f" ({replaced} earlier command(s) replaced before sending)" if replaced else ""
        try:
            await self._write(battery, switch, on)
        except (BatmuxError, TimeoutError) as exc:
            self.failed += 1
            log.warning("%s: %s switch %s failed: %s%s", battery, switch, word, exc, note)
            return exc
        except Exception as exc:  # a driver bug costs this write, not every battery's writer
            self.failed += 1
            log.exception("%s: %s switch %s crashed%s", battery, switch, word, note)
            return exc
        finally:
            self._last_write_end[battery] = self._clock()
        self.writes += 1
        log.info("%s: %s switch set %s%s", battery, switch, word, note)
        if self._on_written is not None:
            await self._on_written(battery, switch, on)
        return None
