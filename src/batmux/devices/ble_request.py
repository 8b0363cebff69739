"""Request/answer helper shared by the polled BLE families (JBD, Daly, ANT, SOK, Supervolt).

One overall deadline per sample: every step waits only for what is left of it, so a sample
never takes longer than the ``timeout`` the source asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

from batmux.devices.ble_driver import BleDriver
from batmux.errors import CorruptFrame, LinkTimeout

ASKS = 3  # requests per answer at most: a corrupt or missing answer is asked for again
RESEND_S = 1.0  # silence this long asks again (BMSes answer within a few hundred ms)


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
        key: Callable[[bytes], Hashable] | None = None,
    ) -> list[bytes]:
        """Send ``request``; return ``count`` frames that ``accept`` takes.

        A corrupt frame in the answer sends the request again at once; silence sends it again
        after ``RESEND_S`` (or the attempt's share of the time left, if less), at most ``asks``
        requests, the last one waiting until ``deadline``. So one bad or lost notification
        costs a round trip, not the whole timeout. Without ``key``, a corrupt answer to the
        last request fails the sample at once (``CorruptFrame``).

        With ``key`` (what tells the frames of a multi-frame answer apart, e.g. their frame
        number) every good frame counts, whichever request it answered: a re-sent request only
        has to fill the gaps, and each further frame of the answer allows one more request (a
        long answer meets more corruption). After the last request a corrupt frame no longer
        ends the wait at once, since it may be a leftover of an earlier answer (a Daly sends 16
        cell frames however few it has): the missing frames get ``RESEND_S`` more."""
        got: dict[Hashable, bytes] = {}
        if key is not None:
            asks += count - 1
        for attempt in range(asks):
            last = attempt == asks - 1
            share = min(left(deadline) / (asks - attempt), RESEND_S)
            until = deadline if last else deadline_in(share)
            patient = last and key is not None
            try:
                return await self._ask_once(request, accept, until, count, key, got, not patient)
            except (CorruptFrame, LinkTimeout):
                if last:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _ask_once(
        self,
        request: bytes,
        accept: Callable[[bytes], bool],
        until: float,
        count: int,
        key: Callable[[bytes], Hashable] | None,
        got: dict[Hashable, bytes],
        stop_on_corrupt: bool = True,
    ) -> list[bytes]:
        if key is None:
            got.clear()  # without a key, frames of different requests cannot be told apart
            self.drain()  # ... so only frames that answer this request may count
        else:  # good frames already queued count; old corrupt-frame marks must not stop us
            got.update((key(frame), frame) for frame in self.take(accept))
            if len(got) >= count:
                return list(got.values())
        await self.send(request)
        corrupt: CorruptFrame | None = None
        while len(got) < count:
            try:
                frame = await self.next_frame(accept, left(until), stop_on_corrupt=True)
            except CorruptFrame as exc:
                if stop_on_corrupt:
                    raise
                corrupt = exc
                until = min(until, deadline_in(RESEND_S))  # the rest of the answer may be good
                continue
            except LinkTimeout:
                if corrupt is not None:  # it was the corruption, not silence
                    raise corrupt from None
                raise
            got[key(frame) if key is not None else len(got)] = frame
        return list(got.values())
