"""Run a coroutine forever, restarting it with backoff when it fails; never takes siblings down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def supervised(
    name: str,
    factory: Callable[[], Awaitable[None]],
    base_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
) -> None:
    delay = base_delay_s
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a supervisor's whole job is to survive its child
            log.error(
                "%s failed: %s: %s; restarting in %.0f s",
                name,
                type(exc).__name__,
                exc,
                delay,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
        if asyncio.get_running_loop().time() - started > max_delay_s:
            delay = base_delay_s  # it ran fine for a while: start backing off afresh
        await asyncio.sleep(delay)
        delay = min(max_delay_s, delay * 2)
