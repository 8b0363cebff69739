"""Helpers for tests on the python-can ``virtual`` bus (real python-can, in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

LIMITS = ChargeLimits(233.6, 25.6, 30.0, 160.0)


def channel() -> CanBusConfig:
    return CanBusConfig(interface="virtual", channel=f"test-{uuid.uuid4().hex[:8]}")


def state(limits: ChargeLimits | None = LIMITS, available: bool = True, **kw: Any) -> BatteryState:
    values: dict[str, Any] = dict(
        voltage_v=212.1,
        current_a=-3.0,
        soc_pct=60.0,
        soh_pct=98.0,
        capacity_ah=25.0,
        temperatures_c=(18.0, 20.0),
    )
    values.update(kw)
    now = time.time()
    return BatteryState(
        "bank", available, BatterySample(timestamp=now, **values), limits=limits, last_good_at=now
    )


async def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Recorder:
    """A plain listener on the bus: every frame with its loop time."""

    def __init__(self, cfg: CanBusConfig) -> None:
        self.link = CanLink(cfg)
        self.frames: list[tuple[float, int, bytes]] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.link:
            while True:
                frame = await self.link.recv(1.0)
                if frame is not None:
                    self.frames.append((loop.time(), *frame))

    def ids(self) -> list[int]:
        return [i for _, i, _ in self.frames]

    def of(self, can_id: int) -> list[tuple[float, bytes]]:
        return [(t, d) for t, i, d in self.frames if i == can_id]


def intervals(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]
