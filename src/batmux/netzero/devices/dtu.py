"""A Hoymiles inverter behind a DTU (AhoyDTU or OpenDTU): the field's command cycle.

The controller only calls ``request(watts)``; ``run()`` reads the DTU every 2 s and, once per
1 s TX cycle, sends at most one command, chosen by homebattery's priority: switch-off > reset
(after a switch-on that was not confirmed; a power change does not survive a reset) > power
change > switch-on. Each command gets 3 attempts 1 s apart and then waits for the DTU to confirm
it (30 s for on/off and limits, 60 s for a reset) before it is sent again. An inverter that
switches itself off while it should be on is reported as FAULT. While the DTU cannot be read no
command is sent; the latest request (e.g. "off" from a lock) is honoured when it answers again.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

from batmux.netzero.devices.http import DeviceError, DeviceUnreachable, with_retries
from batmux.netzero.lut import PowerLut
from batmux.netzero.ports import Clock, DeviceStatus, InverterState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DtuReading:
    on: bool | None  # producing; None when the DTU reports a fault state
    limit_pct: float | None
    power_w: float | None
    fault: str = ""  # why the DTU's status counts as a fault
    offline: bool = False  # the DTU answers but cannot reach the inverter


class DtuTransport(Protocol):
    """The HTTP dialect of one DTU kind; every method raises ``DeviceError`` on failure."""

    async def read(self) -> DtuReading: ...
    async def power(self, on: bool) -> None: ...
    async def restart(self) -> None: ...
    async def limit(self, percent: float) -> None: ...


@dataclass(frozen=True, slots=True)
class DtuTiming:
    cycle_s: float = 1.0  # one TX cycle: at most one command
    read_every_s: float = 2.0
    attempts: int = 3
    retry_s: float = 1.0
    confirm_s: float = 30.0  # after on/off or a limit
    reset_confirm_s: float = 60.0
    limit_tolerance_pct: float = 0.2  # Hoymiles limits come back in 0.1 % steps


@dataclass(slots=True)
class _Pending:
    sent_at: float
    deadline: float
    value: float | None = None


class DtuInverter:
    """``Inverter`` (netzero/ports.py) for one inverter on an AhoyDTU or OpenDTU."""

    def __init__(
        self,
        name: str,
        transport: DtuTransport,
        *,
        max_power_w: float,
        clock: Clock,
        lut: PowerLut | None = None,
        timing: DtuTiming | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.lut = lut
        self.max_power_w = min(max_power_w, lut.max_power_w) if lut else max_power_w
        self.min_power_w = lut.min_power_w if lut else 0.0
        self.clock = clock
        self.timing = timing or DtuTiming()
        self.commands_sent = 0  # accepted commands (the benchmark counts them)
        self._want_on: bool | None = None  # None: nothing requested yet, send nothing
        self._want_pct = 0.0
        self._reading: DtuReading | None = None
        self._read_at = -math.inf
        self._next_read = -math.inf
        self._read_error = ""
        self._read_offline = False
        self._pending: dict[str, _Pending] = {}
        self._need_reset = False
        self._seen_on = False  # confirmed ON since the last switch-on request
        self._self_off = False
        self._cmd_error = ""  # the last command that could not be sent
        self._unconfirmed: dict[str, str] = {}  # kind → why it timed out, until confirmed

    # -- controller side -------------------------------------------------------------------
    def percent_for(self, watts: float) -> float:
        if self.lut is not None:
            return self.lut.get_percent(watts)
        return round(min(max(watts / self.max_power_w, 0.0), 1.0) * 100.0, 1)

    def request(self, watts: float) -> None:
        on = math.isfinite(watts) and watts > 0 and watts >= self.min_power_w
        if on:
            self._want_pct = self.percent_for(min(watts, self.max_power_w))
        if on != self._want_on:
            for kind in ("on", "limit", "reset") if not on else ("off",):
                self._pending.pop(kind, None)
            self._need_reset = self._need_reset and on
            self._unconfirmed.clear()
            self._cmd_error = ""
            self._seen_on = self._self_off = False
            self._want_on = on

    def state(self) -> InverterState:
        r = self._reading
        if self._read_error:
            status = DeviceStatus.OFFLINE if self._read_offline else DeviceStatus.FAULT
            return InverterState(status, None, None, self._read_error)
        if r is None:
            return InverterState(DeviceStatus.OFFLINE, None, None, "not read yet")
        error = self._cmd_error or next(iter(self._unconfirmed.values()), "")
        if r.offline:
            status, error = DeviceStatus.OFFLINE, error or "the DTU cannot reach the inverter"
        elif r.fault or self._self_off or self._cmd_error:
            status = DeviceStatus.FAULT  # includes a command the DTU would not take 3 times
            error = r.fault or ("inverter switched itself off" if self._self_off else error)
        elif self._pending:
            status = DeviceStatus.SYNCING
        else:
            status = DeviceStatus.ON if r.on else DeviceStatus.OFF
        limit_w = None
        if r.limit_pct is not None:
            limit_w = (
                self.lut.get_watts(r.limit_pct)
                if self.lut
                else r.limit_pct * self.max_power_w / 100
            )
        return InverterState(status, r.power_w, limit_w, error)

    async def stop(self) -> None:
        """batmux is stopping: switch the inverter off, so nothing drains the battery unwatched
        (a non-persistent limit would stay, and a DTU restart would even raise it to 100 %)."""
        try:
            await self.transport.power(False)
            log.info("%s: switched off (batmux stopping)", self.name)
        except DeviceError as exc:
            log.warning("%s: could not switch off on stop: %s", self.name, exc)

    # -- device side -----------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.step()
            await self.clock.sleep(self.timing.cycle_s)

    async def step(self) -> None:
        """One TX cycle: read when due, check confirmations, send the most urgent command."""
        now = self.clock.now()
        if now >= self._next_read:
            self._next_read = now + self.timing.read_every_s
            await self._read()
        self._check_pending(self.clock.now())
        kind = self._choose()
        if kind is not None:
            await self._send(kind)

    async def _read(self) -> None:
        try:
            reading = await self.transport.read()
        except DeviceError as exc:
            if not self._read_error:
                log.warning("%s: %s", self.name, exc)
            self._read_error, self._read_offline = str(exc), isinstance(exc, DeviceUnreachable)
            return
        if self._read_error:
            log.info("%s: DTU answers again", self.name)
        self._read_error, self._read_offline = "", False
        self._reading, self._read_at = reading, self.clock.now()
        if self._want_on and reading.on:
            self._seen_on, self._self_off = True, False
        elif (
            self._want_on
            and self._seen_on
            and reading.on is False
            and not {"off", "reset"} & self._pending.keys()
        ):
            log.warning("%s: inverter switched itself off while it should be on", self.name)
            self._seen_on, self._self_off = False, True

    def _check_pending(self, now: float) -> None:
        r = self._reading
        for kind, p in list(self._pending.items()):
            fresh = r is not None and self._read_at > p.sent_at
            if fresh and self._confirmed(kind, p, r):
                del self._pending[kind]
                for done in ("on", "reset") if kind in ("on", "reset") else (kind,):
                    self._unconfirmed.pop(done, None)
            elif now >= p.deadline:
                del self._pending[kind]
                why = f"{kind} not confirmed within {p.deadline - p.sent_at:g} s"
                self._unconfirmed[kind] = why
                log.warning("%s: %s", self.name, why)
                if kind == "on":
                    self._need_reset = True

    def _confirmed(self, kind: str, p: _Pending, r: DtuReading | None) -> bool:
        if r is None:
            return False
        if kind == "off":
            return r.on is False
        if kind in ("on", "reset"):
            return r.on is True
        return r.limit_pct is not None and self._same_pct(r.limit_pct, p.value or 0.0)

    def _same_pct(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.timing.limit_tolerance_pct

    def _choose(self) -> str | None:
        r = self._reading
        if self._want_on is None or r is None or self._read_error or r.offline:
            return None  # nobody to talk to: keep the request for when it answers again
        if not self._want_on:
            return "off" if r.on is not False and "off" not in self._pending else None
        if self._need_reset and "reset" not in self._pending:
            return "reset"
        if r.limit_pct is None or not self._same_pct(r.limit_pct, self._want_pct):
            sent = self._pending.get("limit")
            # A lower limit may overtake one still waiting for confirmation (less export).
            if (
                sent is None
                or (sent.value or 0.0) - self._want_pct > self.timing.limit_tolerance_pct
            ):
                return "limit"
        if r.on is not True and not {"on", "reset"} & self._pending.keys():
            return "on"
        return None

    async def _send(self, kind: str) -> None:
        value = self._want_pct if kind == "limit" else None
        want = self._want_on
        try:
            await with_retries(
                lambda: self._transmit(kind), self.clock, self.timing.attempts, self.timing.retry_s
            )
        except DeviceError as exc:
            self._cmd_error = f"{kind} failed {self.timing.attempts}×: {exc}"
            log.warning("%s: %s", self.name, self._cmd_error)
            return
        self.commands_sent += 1
        self._cmd_error = ""
        if self._want_on != want:
            return  # the request flipped while this was on the wire: nothing to wait for
        now = self.clock.now()
        wait = self.timing.reset_confirm_s if kind == "reset" else self.timing.confirm_s
        self._pending[kind] = _Pending(now, now + wait, value)
        if kind == "reset":
            self._need_reset = False
        log.info("%s: sent %s%s", self.name, kind, f" {value:g} %" if value is not None else "")

    async def _transmit(self, kind: str) -> None:
        if kind == "limit":
            await self.transport.limit(self._want_pct)
        elif kind == "reset":
            await self.transport.restart()
        else:
            await self.transport.power(kind == "on")
