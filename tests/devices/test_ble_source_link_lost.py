"""A link that drops during a read fails the sample at once (``LinkLost`` listeners, no watcher
task), and the sampling task is left exactly as it was: not cancelled, its cancel count
unchanged, so the next sample and the next sleep run."""

from __future__ import annotations

import asyncio
import time

import pytest

from batmux.devices.ble_source import BleSource
from batmux.devices.jbd import JbdDriver
from batmux.errors import LinkError
from batmux.links.link_lost import LinkLost
from batmux.protocols.jbd import JbdCodec
from batmux.sim.battery import SimBattery
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.peripheral import SimPeripheral


class DroppingLink(SimPeripheral):
    """A JBD pack that can go silent, and a link that can drop mid-read like BleakLink does:
    later (a disconnect signal from the loop) or inside the write itself (``_lost_to``)."""

    def __init__(self) -> None:
        super().__init__(JbdSimDevice(SimBattery(cells=4, soc_pct=50.0)), latency_s=0.001)
        self.lost = LinkLost()
        self.silent = False
        self.drop_in_write = False

    async def connect(self, timeout: float = 20.0) -> None:
        await super().connect(timeout)
        self.lost.clear()

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        if self.drop_in_write:
            self.lost.set()
            raise LinkError("write: the device went away")
        if not self.silent:
            await super().write(char_uuid, data, response)


def source_on(link: DroppingLink) -> BleSource:
    return BleSource("pack", JbdDriver(link, JbdCodec()), timeout_s=5.0)


async def test_drop_during_the_read_fails_it_at_once() -> None:
    link = DroppingLink()
    source = source_on(link)
    task = asyncio.current_task()
    assert task is not None
    assert (await source.sample()).soc_pct == 50
    link.silent = True
    asyncio.get_running_loop().call_later(0.1, link.lost.set)
    started = time.monotonic()
    with pytest.raises(LinkError, match="connection lost during the read"):
        await source.sample()
    assert time.monotonic() - started < 1.0  # not the 5 s timeout
    assert task.cancelling() == 0 and link.lost.listeners == []
    await asyncio.sleep(0.01)  # the task is not left cancelled
    assert source.health.drops >= 1


async def test_drop_inside_the_write_leaves_the_task_usable() -> None:
    link = DroppingLink()
    source = source_on(link)
    assert (await source.sample()).soc_pct == 50
    link.drop_in_write = True
    with pytest.raises(LinkError, match="went away"):
        await source.sample()
    await asyncio.sleep(0.01)  # a cancel scheduled by the loss must not land here
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    link.drop_in_write = False
    source.backoff.not_before = 0.0
    assert (await source.sample()).soc_pct == 50  # reconnects and reads again


async def test_an_outside_cancel_still_cancels() -> None:
    link = DroppingLink()
    source = source_on(link)
    await source.sample()
    link.silent = True
    reader = asyncio.create_task(source.sample())
    await asyncio.sleep(0.05)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert link.lost.listeners == []
