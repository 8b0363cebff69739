"""BYD Battery-Box HVS emulation over CAN (``inverters:`` ``type: byd_can``).

Silent until the inverter speaks. Then: the init burst (0x250, 0x290, 0x2D0, 0x3D0 ×4) on the
first inverter frame and on every 0x151 identification request; 0x110 every 2 s; 0x150, 0x1D0,
0x210 every 10 s; 0x190 every 60 s (periods from config). After ``inverter_timeout`` of silence
the inverter is reported missing; frames keep going out, and the next inverter frame starts
over with an init burst.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from batmux.errors import ProtocolError
from batmux.links.can_bus import CanLink
from batmux.protocols import byd_can
from batmux.runtime.hub import StateHub
from batmux.sinks.can_inverter import MISSING, NO_BATTERY_DATA, RUNNING, CanInverterSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig

log = logging.getLogger(__name__)


def byd_options(cfg: BydCanInverterConfig) -> byd_can.BydCanOptions:
    major, _, minor = cfg.identity.firmware.partition(".")
    identity = byd_can.BydIdentity(
        fw_major=int(major),
        fw_minor=int(minor, 16),
        model=cfg.identity.model,
        capacity_kwh=cfg.identity.capacity_kwh,
    )
    return byd_can.BydCanOptions(identity, cfg.deye_workaround, cfg.fallback)


class BydCanSink(CanInverterSink):
    cfg: BydCanInverterConfig

    def __init__(
        self,
        cfg: BydCanInverterConfig,
        hub: StateHub,
        link: CanLink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cfg, hub, link, clock)
        self.options = byd_options(cfg)
        p = cfg.periods
        d = self.options.dialect
        self.periods = {
            d.limits: p.limits,
            d.states: p.states,
            d.info: p.info,
            d.temps: p.temps,
            d.alarm: p.alarm,
        }
        self.next_due: dict[int, float] = {}
        self.init_bursts = 0
        self.send_log: list[tuple[float, int]] = []  # (loop time, id), bounded; for timing checks

    async def run(self) -> None:
        """Serve until cancelled (the runtime's supervisor restarts it on a LinkError)."""
        loop = asyncio.get_running_loop()
        async with self.link:
            while True:
                timeout = min(self.next_due.values()) - loop.time() if self.next_due else None
                if self.inverter_alive and self.last_inverter_at is not None:
                    until_missing = self.last_inverter_at + self.cfg.inverter_timeout - loop.time()
                    timeout = until_missing if timeout is None else min(timeout, until_missing)
                frame = await self.link.recv(None if timeout is None else max(0.0, timeout))
                now = loop.time()
                if frame is not None:
                    await self._on_frame(*frame, now)
                self.check_missing(now)
                if self.next_due:
                    await self._send_due(now)

    async def _on_frame(self, can_id: int, data: bytes, now: float) -> None:
        try:
            parsed = byd_can.parse_inverter_frame(can_id, data)
        except ProtocolError as exc:
            self.errors += 1
            self.last_error = f"bad inverter frame: {exc}"
            return
        if parsed is None:
            return  # another device on the bus
        first = self.heard_inverter(now)
        if parsed.name:
            self.inverter_name = parsed.name
        if first or parsed.identification_request:
            await self._init_burst()
        if first:
            self.next_due = dict.fromkeys(self.periods, now)  # start the schedule now
            self.state = RUNNING

    async def _init_burst(self) -> None:
        state, _ = self.current()
        if await self.send(byd_can.build_init_burst(state, self.options)):
            self.init_bursts += 1

    async def _send_due(self, now: float) -> None:
        due = [i for i, t in self.next_due.items() if t <= now]
        if not due:
            return
        for can_id in due:
            nxt = self.next_due[can_id] + self.periods[can_id]
            self.next_due[can_id] = nxt if nxt > now else now + self.periods[can_id]
        state, limits = self.current()
        if limits is None:
            self.state = NO_BATTERY_DATA
            return
        if self.state == NO_BATTERY_DATA:
            self.state = RUNNING if self.inverter_alive else MISSING
        payloads = byd_can.build_periodic(state, limits, self.options)
        frames = [(i, payloads[i]) for i in sorted(due)]
        if await self.send(frames):
            self.send_log += [(now, i) for i, _ in frames]
            del self.send_log[:-1000]

    def status(self) -> dict[str, object]:
        return {**super().status(), "init_bursts": self.init_bursts}


async def run_byd_can(cfg: BydCanInverterConfig, hub: StateHub) -> None:
    """Entry point for the runtime: serve one ``type: byd_can`` inverter link."""
    await BydCanSink(cfg, hub).run()
