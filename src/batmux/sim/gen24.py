"""A Fronius-Gen24-like Modbus master: the inverter side of a BYD Battery-Box Premium HV.

It plays the start-up sequence seen on the wire (protocols/can-modbus.md §1.3):

 1. 100×2 ("SI", 1), repeated if unanswered     6. write 400×9 = [1, 0xFF00, 60, 0, 0, t, 1]
 2. 102×16, 118×16, 166×2                       7. 300×24, 401×1, write 401 byte-swapped
 3. 100×68 (whole identity block)               8. 1000×100
 4. 200×13 (capacity, power, voltage window)    9. write 400 = 2 → the battery goes ACTIVE
 5. 300×24 (expects state INACTIVE)

then polls 300×24 every ``poll_period_s`` (5 s on a real Gen24), 1000×100 every
``alarm_period_s`` (20 s) and reads + toggles 401 every ``keepalive_period_s`` (~57 s).
Everything it sees is decoded through the real codec and kept in ``events`` / ``samples``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from batmux.errors import BatmuxError
from batmux.links.modbus import ModbusLink
from batmux.model.sample import BatterySample
from batmux.protocols.byd_modbus import (
    ALARMS,
    IDENTITY,
    LIVE,
    REG_COMMAND,
    REG_KEEPALIVE,
    SYSTEM,
    BydState,
    Identity,
    decode_identity,
    decode_registers,
    startup_write,
    toggle_keepalive,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gen24Event:
    at: float
    op: str  # "read" | "write"
    address: int
    count: int
    values: tuple[int, ...] = ()
    error: str = ""


@dataclass
class Gen24Sim:
    """Drives a BYD Modbus battery like a Gen24 does. ``link`` is any ``ModbusLink``."""

    link: ModbusLink
    poll_period_s: float = 5.0
    alarm_period_s: float = 20.0
    keepalive_period_s: float = 57.0
    startup_retries: int = 3
    clock: Callable[[], float] = time.time
    events: list[Gen24Event] = field(default_factory=list)
    samples: list[BatterySample] = field(default_factory=list)
    identity: Identity | None = None
    system: list[int] = field(default_factory=list)
    alarms_nonzero: int = 0
    keepalive_toggles: int = 0

    @property
    def states(self) -> list[BydState]:
        names = (s.extra.get("byd_state") for s in self.samples)
        return [BydState[n.upper()] for n in names if isinstance(n, str)]

    @property
    def errors(self) -> list[Gen24Event]:
        return [e for e in self.events if e.error]

    async def _read(self, address: int, count: int) -> list[int] | None:
        try:
            values = await self.link.read(address, count)
        except BatmuxError as exc:
            self.events.append(Gen24Event(self.clock(), "read", address, count, error=str(exc)))
            log.warning("gen24: read %d×%d: %s", address, count, exc)
            return None
        self.events.append(Gen24Event(self.clock(), "read", address, count, tuple(values)))
        return values

    async def _write(self, address: int, values: Sequence[int]) -> bool:
        try:
            await self.link.write(address, values)
        except BatmuxError as exc:
            event = Gen24Event(self.clock(), "write", address, len(values), tuple(values), str(exc))
            self.events.append(event)
            log.warning("gen24: write %d×%d: %s", address, len(values), exc)
            return False
        self.events.append(Gen24Event(self.clock(), "write", address, len(values), tuple(values)))
        return True

    async def read_live(self) -> BatterySample | None:
        values = await self._read(*LIVE)
        if values is None:
            return None
        regs = dict(zip(range(LIVE[0], LIVE[0] + LIVE[1]), values, strict=True))
        regs.update(zip(range(SYSTEM[0], SYSTEM[0] + len(self.system)), self.system, strict=True))
        sample = decode_registers(regs, self.clock())
        self.samples.append(sample)
        extra = sample.extra
        log.info("gen24: state %s SoC %.2f %% %s V %s W, allowed +%s/-%s W", extra["byd_state"],
                 sample.soc_pct, sample.voltage_v, sample.power_w,
                 extra["max_charge_power_w"], extra["max_discharge_power_w"])  # fmt: skip
        return sample

    async def keepalive(self) -> bool:
        values = await self._read(REG_KEEPALIVE, 1)
        if values is None:
            return False
        ok = await self._write(REG_KEEPALIVE, [toggle_keepalive(values[0])])
        self.keepalive_toggles += ok
        return ok

    async def read_alarms(self) -> None:
        values = await self._read(*ALARMS)
        if values is not None:
            self.alarms_nonzero = sum(1 for v in values if v)

    async def startup(self) -> bool:
        """Steps 1–9; False if the battery never answered or looked wrong."""
        for _ in range(self.startup_retries):
            if await self._read(IDENTITY[0], 2) == [0x5349, 1]:
                break
        else:
            return False
        for address, count in ((102, 16), (118, 16), (166, 2)):
            if await self._read(address, count) is None:
                return False
        block = await self._read(*IDENTITY)
        if block is None:
            return False
        self.identity = decode_identity(dict(zip(range(IDENTITY[0], 168), block, strict=True)))
        log.info("gen24: found %s %s fw %s serial %s", self.identity.manufacturer,
                 self.identity.model, self.identity.firmware, self.identity.serial)  # fmt: skip
        self.system = await self._read(*SYSTEM) or []
        if not self.system or await self.read_live() is None:
            return False
        if not await self._write(REG_COMMAND, startup_write(self.clock())):
            return False
        await self.read_live()
        await self.keepalive()
        await self.read_alarms()
        return await self._write(REG_COMMAND, [2])

    async def run(self, polls: int | None = None) -> bool:
        """Start-up, then ``polls`` poll periods (forever if None). False if start-up failed."""
        if not await self.startup():
            return False
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_alarms = start + self.alarm_period_s
        next_keepalive = start + self.keepalive_period_s
        n = 0
        while polls is None or n < polls:
            n += 1
            await asyncio.sleep(max(0.0, start + n * self.poll_period_s - loop.time()))
            await self.read_live()
            now = loop.time()
            if now >= next_alarms:
                next_alarms += self.alarm_period_s
                await self.read_alarms()
            if now >= next_keepalive:
                next_keepalive += self.keepalive_period_s
                await self.keepalive()
        return True
