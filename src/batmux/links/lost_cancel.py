"""Re-raise a cancellation that a library's ``asyncio.wait_for`` swallowed (Python 3.11).

On Python 3.11 ``asyncio.wait_for`` returns the result instead of raising when a cancel races
with the answer (fixed in 3.12). aiomqtt awaits it for CONNACK, SUBACK and QoS 1 PUBACK, and
pymodbus for every connect and every request. The task then stays "cancelling" but runs on,
so a SIGTERM that lands at that moment leaves the gateway hanging forever. Every aiomqtt and
pymodbus call in batmux (MQTT sink, MQTT JSON source and output, links/modbus.py) is guarded
with these two functions.

Compare against the count taken before the call, not against zero: a 3.11 TaskGroup whose child
failed while it was exiting leaves its parent's count raised for good.

    before = cancel_count()
    async with aiomqtt.Client(...) as client:
        reraise_lost_cancel(before)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def cancel_count() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def reraise_lost_cancel(before: int) -> None:
    if cancel_count() > before:
        raise asyncio.CancelledError


async def guarded(call: Awaitable[T]) -> T:
    """``await call`` (an aiomqtt or pymodbus call), re-raising a cancel it swallowed."""
    before = cancel_count()
    result = await call
    reraise_lost_cancel(before)
    return result
