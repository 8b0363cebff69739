"""Pylontech low-voltage CAN emulation (``inverters:`` ``type: pylontech_can``).

Every frame of the configured variant once per ``period`` (1 s), whether or not the inverter
talks (a Pylontech stack broadcasts); 0x305 from the inverter marks it alive. Nothing is sent
while no trustworthy charge voltage is known: a Victron then drops the BMS (stops charging)
instead of being told CVL 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from batmux.links.can_bus import CanLink
from batmux.protocols.pylontech_can import ID_KEEPALIVE
from batmux.protocols.pylontech_can_encode import PylontechCanOptions, build_frames
from batmux.runtime.hub import StateHub
from batmux.sinks.can_inverter import MISSING, NO_BATTERY_DATA, RUNNING, WAITING, CanInverterSink
from batmux.sinks.can_inverter_config import PylontechCanInverterConfig

log = logging.getLogger(__name__)


def pylon_options(cfg: PylontechCanInverterConfig) -> PylontechCanOptions:
    return PylontechCanOptions(
        variant=cfg.variant,
        victron_extras=cfg.victron_extras,
        fallback=cfg.fallback,
        manufacturer=cfg.manufacturer,
        bms_name=cfg.bms_name,
        module_count=cfg.module_count,
    )


class PylontechCanSink(CanInverterSink):
    cfg: PylontechCanInverterConfig

    def __init__(
        self,
        cfg: PylontechCanInverterConfig,
        hub: StateHub,
        link: CanLink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cfg, hub, link, clock)
        self.options = pylon_options(cfg)
        self.cycles = 0
        self.cycle_times: list[float] = []  # loop time of each cycle, bounded; for timing checks

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.link:
            next_due = loop.time()
            while True:
                frame = await self.link.recv(max(0.0, next_due - loop.time()))
                now = loop.time()
                if frame is not None and frame[0] == ID_KEEPALIVE:
                    self.heard_inverter(now)
                self.check_missing(now)
                if now >= next_due:
                    nxt = next_due + self.cfg.period
                    next_due = nxt if nxt > now else now + self.cfg.period
                    await self._cycle(now)

    async def _cycle(self, now: float) -> None:
        state, limits = self.current()
        if limits is None:
            self.state = NO_BATTERY_DATA
            return
        if self.inverter_alive:
            self.state = RUNNING
        elif self.state != MISSING:
            self.state = WAITING
        try:
            frames = build_frames(state, limits, self.options)
        except ValueError as exc:  # CVL 0 refused: send nothing rather than a lie
            self.errors += 1
            self.last_error = str(exc)
            return
        if await self.send(frames):
            self.cycles += 1
            self.cycle_times.append(now)
            del self.cycle_times[:-1000]

    def status(self) -> dict[str, object]:
        return {**super().status(), "cycles": self.cycles}


async def run_pylontech_can(cfg: PylontechCanInverterConfig, hub: StateHub) -> None:
    """Entry point for the runtime: serve one ``type: pylontech_can`` inverter link."""
    await PylontechCanSink(cfg, hub).run()
