"""A cancel that pymodbus swallows (Python 3.11's ``asyncio.wait_for``) still stops the caller.

The stand-in below behaves like pymodbus's client when a cancel races with the answer: its
call catches the CancelledError and returns normally. Without the guard in links/modbus.py the
cancelled task would run on; with it, the cancel comes back out.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from batmux.links.modbus import ModbusLink


class SwallowingClient:
    """Answers like pymodbus does after ``wait_for`` lost a cancel: normally."""

    def __init__(self) -> None:
        self.connected = False
        self.entered = asyncio.Event()

    async def _swallow(self) -> None:
        self.entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # 3.11: the result wins the race
            await asyncio.sleep(10)

    async def connect(self) -> bool:
        await self._swallow()
        return True

    async def read_holding_registers(self, address: int, count: int, device_id: int) -> Any:
        await self._swallow()

        class Reply:
            registers = [0] * count

            def isError(self) -> bool:
                return False

        return Reply()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("connected", [False, True])
async def test_a_swallowed_cancel_still_cancels_the_caller(connected: bool) -> None:
    link = ModbusLink("127.0.0.1:1502", unit_id=1)
    client = SwallowingClient()
    client.connected = connected  # True: the read is the call that swallows
    link.client = client  # type: ignore[assignment]
    task = asyncio.create_task(link.read(300, 4))
    await client.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
