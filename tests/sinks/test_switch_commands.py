"""SwitchCommands: the latest wish wins, writes to one BMS are spaced, failures are counted."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from batmux.errors import LinkError
from batmux.runtime.commands import SwitchCommands

INTERVAL = 0.3


class Bms:
    """Records each write with its time; one write takes ``duration`` seconds."""

    def __init__(self, duration: float = 0.05, fail: int = 0) -> None:
        self.writes: list[tuple[str, str, bool, float]] = []
        self.duration = duration
        self.fail = fail

    async def write(self, battery: str, switch: str, on: bool) -> None:
        await asyncio.sleep(self.duration)
        if self.fail:
            self.fail -= 1
            raise LinkError("no answer")
        self.writes.append((battery, switch, on, time.monotonic()))


@contextlib.asynccontextmanager
async def started(commands: SwitchCommands):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(commands.run())
    try:
        yield commands
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_latest_wish_wins_and_writes_are_spaced() -> None:
    bms = Bms()
    shown: list[tuple[str, str, bool]] = []

    async def on_written(battery: str, switch: str, on: bool) -> None:
        shown.append((battery, switch, on))

    commands = SwitchCommands(["a", "b"], bms.write, on_written, min_interval_s=INTERVAL)
    async with started(commands):
        commands.submit("a", "charge", True)
        await asyncio.sleep(0.01)  # the first wish goes out at once
        for i in range(1000):
            commands.submit("a", "charge", i % 2 == 1)  # ends with ON
        commands.submit("a", "discharge", False)
        commands.submit("b", "charge", False)  # another BMS is not held up by "a"
        await asyncio.sleep(3 * INTERVAL + 0.3)
    a = [w for w in bms.writes if w[0] == "a"]
    assert [(s, on) for _, s, on, _ in a] == [
        ("charge", True),
        ("charge", True),
        ("discharge", False),
    ]
    gaps = [later[3] - earlier[3] for earlier, later in itertools.pairwise(a)]
    assert all(gap >= INTERVAL for gap in gaps), gaps  # end of one write to end of the next
    b = [w for w in bms.writes if w[0] == "b"]
    assert [(s, on) for _, s, on, _ in b] == [("charge", False)]
    assert b[0][3] < a[1][3]
    assert (commands.submitted, commands.writes, commands.replaced) == (1003, 4, 999)
    assert shown == [(w[0], w[1], w[2]) for w in sorted(bms.writes, key=lambda w: w[3])]


async def test_a_failed_write_is_counted_and_the_next_wish_still_goes_out() -> None:
    bms = Bms(fail=1)
    commands = SwitchCommands(["a"], bms.write, min_interval_s=INTERVAL)
    async with started(commands):
        commands.submit("a", "charge", False)
        await asyncio.sleep(0.1)
        commands.submit("a", "charge", False)  # asked again after the failure
        await asyncio.sleep(INTERVAL + 0.2)
    assert commands.failed == 1 and commands.writes == 1
    assert [(s, on) for _, s, on, _ in bms.writes] == [("charge", False)]


async def test_a_crashing_write_costs_that_write_only() -> None:
    bms = Bms()
    crashed = []

    async def write(battery: str, switch: str, on: bool) -> None:
        if not crashed:
            crashed.append(battery)
            raise RuntimeError("driver bug")
        await bms.write(battery, switch, on)

    commands = SwitchCommands(["a", "b"], write, min_interval_s=0.05)
    async with started(commands):
        commands.submit("a", "charge", True)
        await asyncio.sleep(0.02)
        commands.submit("a", "charge", False)
        commands.submit("b", "charge", True)
        await asyncio.sleep(0.4)
    assert crashed == ["a"]
    assert sorted((w[0], w[2]) for w in bms.writes) == [("a", False), ("b", True)]
    assert (commands.failed, commands.writes) == (1, 2)


async def test_waiters_hear_the_write_that_carried_their_wish() -> None:
    bms = Bms(fail=0)
    commands = SwitchCommands(["a"], bms.write, min_interval_s=INTERVAL)
    loop = asyncio.get_running_loop()
    first, second, third = (loop.create_future() for _ in range(3))
    async with started(commands):
        commands.submit("a", "charge", True, first)
        await asyncio.sleep(0.02)  # the first write is on the wire
        commands.submit("a", "charge", True, second)
        commands.submit("a", "charge", False, third)  # replaces the second before it is sent
        assert await asyncio.wait_for(first, 2) is True
        assert await asyncio.wait_for(second, 2) is False  # answered by the newer wish's write
        assert await asyncio.wait_for(third, 2) is False
    assert [(s, on) for _, s, on, _ in bms.writes] == [("charge", True), ("charge", False)]


async def test_a_waiter_gets_the_write_error() -> None:
    commands = SwitchCommands(["a"], Bms(fail=1).write, min_interval_s=INTERVAL)
    waiter = asyncio.get_running_loop().create_future()
    async with started(commands):
        commands.submit("a", "discharge", False, waiter)
        try:
            await asyncio.wait_for(waiter, 2)
        except LinkError as exc:
            assert "no answer" in str(exc)
        else:
            raise AssertionError("the failed write was answered as written")
    assert commands.failed == 1
