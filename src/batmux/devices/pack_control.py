"""Contactor control of an EV pack: its keep-alive driven by ``core.contactor``.

Only with ``allow_control: true`` and a ``contactors:`` section. ``PackControl`` wraps the
pack's CAN source and holds what every pack shares: the state machine and its interlocks
(from each sample, and the keep-alive's own stale/inverter-silence check), commands, the
keep-alive loop on ``period_s``, external relays (``relays:``), and the shutdown that opens
first. A pack's control says only which frames are due (``wire_frames``):
``devices.tesla_control`` (0x221 and the vehicle-presence frames) and
``devices.leaf_control`` (the VCM's 0x1D4/0x1F2/0x50B/0x50C).

The sample's ``contactor`` is the combined view (``Contactor.combined``), ``contactor_reason``
the reason of batmux's last change or refusal. One log line per state change, not per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from batmux.core.contactor import Contactor, Interlocks, State
from batmux.core.relay_sequence import RelayPlan
from batmux.core.relay_sequence import plan as plan_relays
from batmux.devices.can_source import CanSource
from batmux.errors import BatmuxError, ControlRefused
from batmux.links.relays import RelayOutput
from batmux.model.sample import BatterySample
from batmux.protocols.candump import Frame

log = logging.getLogger(__name__)

PERIOD_S = 0.05  # the default keep-alive period (a Tesla's 0x221)


def interlocks(sample: BatterySample | None) -> Interlocks:
    """The interlocks a sample proves; no sample = stale. HVIL must be reported OK: a sample
    without ``hvil_ok`` (no 0x20A yet, or a firmware without it) is "HVIL unknown"."""
    if sample is None:
        return Interlocks(fresh=False)
    extra = sample.extra
    hvil = extra.get("hvil_ok")
    return Interlocks(
        no_fault=not sample.alarms,
        hvil_ok=hvil is True,
        hvil_known=hvil is not None,
        isolation_ok=not extra.get("isolation_fault", False),
    )


class PackControl:
    """Wraps the pack's ``CanSource``: same ``sample()``/``close()``, plus the keep-alive."""

    def __init__(
        self,
        source: CanSource,
        contactors: Any,
        clock: Callable[[], float] = time.monotonic,
        stale_s: float = 10.0,
        inverter_silence: Callable[[], float | None] | None = None,
    ) -> None:
        self.source = source
        self.name = source.name
        self.health = source.health
        self._clock = clock
        self.close_on_start = bool(contactors.close_on_start)
        self.open_step_s = float(contactors.open_step_s)
        self.machine = Contactor(
            allowed=True,
            close_timeout_s=contactors.close_timeout_s,
            open_timeout_s=3 * self.open_step_s + contactors.close_timeout_s,
            since=clock(),
        )
        self._locks = Interlocks(fresh=False)
        self._sampled_at = clock()  # the last good sample (the keep-alive checks its age)
        # the keep-alive's own bound (contactors.max_sample_age_s, else limits.stale_after)
        self.stale_s = float(getattr(contactors, "max_sample_age_s", None) or stale_s)
        silent = getattr(contactors, "open_on_inverter_silent", None)
        self.inverter_silent_s = float(silent) if silent and inverter_silence else None
        self._inverter_silence = inverter_silence  # seconds the watched inverter is silent
        self._pack: str | None = None
        self.frames_sent = 0
        self.send_times: list[float] = []  # for the jitter measurement (bounded below)
        self.refused: str | None = None
        self.pack_task: asyncio.Task[Any] | None = None  # a simulated pack, stopped by close()
        self.period_s = PERIOD_S  # a subclass sets its pack's period
        # fault injection: the keep-alive is lost on the wire (tests, commissioning)
        self.muted = False
        self.relays: RelayOutput | None = None  # external precharge/main relays (relays:)
        self._close_began = clock()
        self._was_sending = False

    def __getattr__(self, name: str) -> Any:  # status(), link, codec, ... of the CAN source
        return getattr(self.source, name)

    # -- state --------------------------------------------------------------------------------
    def _note(self, step: Any) -> None:
        if step is not None:
            log.warning(
                "%s: contactor %s -> %s (%s)", self.name, step.before, step.after, step.reason
            )

    async def sample(self) -> BatterySample:
        try:
            sample = await self.source.sample()
        except BatmuxError:  # no data, a dead link or an undecodable pack: unknown = unsafe
            self._locks = Interlocks(fresh=False)
            self._note(self.machine.update(self._clock(), self._locks, None))
            raise
        self._locks = self._with_inverter(interlocks(sample))
        self._sampled_at = self._clock()
        self._pack = str(sample.extra["contactor"]) if "contactor" in sample.extra else None
        self._note(self.machine.update(self._clock(), self._locks, self._pack))
        if self.close_on_start and self.machine.state == State.OPEN and not self.machine.log:
            with contextlib.suppress(ControlRefused):  # retried with every sample until it holds
                self.command("close", reason="close_on_start")
        extra = dict(sample.extra)
        extra["contactor"] = self.machine.combined(self._pack)
        extra["contactor_reason"] = self.refused or self.machine.reason
        closed = extra["contactor"] == "closed"
        if not closed:  # no power path through batmux's view either
            return sample.with_(extra=extra, charge_enabled=False, discharge_enabled=False)
        return sample.with_(extra=extra)

    def _with_inverter(self, locks: Interlocks) -> Interlocks:
        """``inverter_ok`` from the watched inverter link, when ``open_on_inverter_silent``."""
        if self.inverter_silent_s is None or self._inverter_silence is None:
            return locks
        silent = self._inverter_silence()
        if silent is None or silent <= self.inverter_silent_s:
            return locks
        return replace(locks, inverter_ok=False)

    def watch(self) -> None:
        """The keep-alive's own checks, independent of sampling: a sample older than
        ``stale_s`` (sampling hung or died) or a silent inverter opens the contactors."""
        if not self.machine.sending:
            return
        now = self._clock()
        age = now - self._sampled_at
        if age > self.stale_s:
            if self._locks.fresh:
                log.warning("%s: no sample for %.1f s: opening", self.name, age)
            self._locks = Interlocks(fresh=False)
        else:
            self._locks = self._with_inverter(self._locks)
        self._note(self.machine.update(now, self._locks, self._pack))

    def command(self, action: str, reason: str = "command") -> None:
        """``close`` or ``open``; raises ``ControlRefused`` with the reason when refused."""
        now = self._clock()
        if action == "open":
            self.refused = None
            self._note(self.machine.request_open(now, reason))
            return
        if action != "close":
            raise ControlRefused(f"{self.name}: contactor command must be close or open")
        before = len(self.machine.log)
        why = self.machine.request_close(now, self._locks, reason)
        if why is not None:
            if self.refused != f"close refused: {why}":  # once per reason, not per retry
                log.warning("%s: contactor close refused: %s", self.name, why)
            self.refused = f"close refused: {why}"
            raise ControlRefused(f"{self.name}: {self.refused}")
        self.refused = None
        if len(self.machine.log) > before:
            self._note(self.machine.log[-1])

    async def set_switch(self, switch: str, on: bool) -> None:
        if switch != "contactor":
            return await self.source.set_switch(switch, on)
        self.command("close" if on else "open")

    # -- frames -------------------------------------------------------------------------------
    def wire_frames(self) -> list[Frame] | None:
        """The keep-alive frames due now as (id, data), or None for silence: the pack's own."""
        raise NotImplementedError

    async def _send_once(self) -> None:
        self.watch()
        frames = self.wire_frames()
        if frames is None or self.muted:
            return
        await self.source.link.send_all(frames)
        self.frames_sent += len(frames)
        if len(self.send_times) < 100_000:
            self.send_times.append(self._clock())

    async def keepalive(self) -> None:
        """Send on a fixed ``period_s`` grid until cancelled (the gateway runs it as background)."""
        loop = asyncio.get_running_loop()
        await self.source.link.open()
        due = loop.time()
        while True:
            await self._send_once()
            due = max(due + self.period_s, loop.time() - self.period_s)  # no burst after a stall
            await asyncio.sleep(max(0.0, due - loop.time()))

    def loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """The background tasks (name, coroutine) the gateway runs for this pack."""
        out = [("keepalive", self.keepalive())]
        if self.relays is not None:
            out.append(("relays", self.relay_loop()))
        return out

    def relay_plan(self) -> RelayPlan:
        """The external relays for the machine's state now (precharge, main, precharge off)."""
        now = self._clock()
        sending = self.machine.sending
        if sending and not self._was_sending:
            self._close_began = now
        self._was_sending = sending
        cfg = self.relays.cfg if self.relays is not None else None
        precharge_s, overlap_s = (cfg.precharge_s, cfg.overlap_s) if cfg else (0.0, 0.0)
        state = self.machine.state.value
        return plan_relays(state, now - self._close_began, precharge_s, overlap_s)

    async def relay_loop(self) -> None:
        """Drive the relays on the keep-alive's period, in a task of their own: a slow HTTP
        relay must not delay the keep-alive frames."""
        while self.relays is not None:
            await self.relays.apply(self.relay_plan())
            await asyncio.sleep(self.period_s)

    async def shutdown(self, timeout_s: float | None = None) -> str:
        """Open first: run the open sequence, wait (bounded) for the pack to report open."""
        self._note(self.machine.request_open(self._clock(), "shutdown"))
        limit = self._clock() + (
            timeout_s if timeout_s is not None else self.machine.open_timeout_s
        )
        await self._open_until(limit)
        if self.machine.state == State.OPENING:
            log.warning("%s: pack did not report open before shutdown gave up", self.name)
        if self.relays is not None:  # whatever the pack says: the external relays open
            await self.relays.apply(RelayPlan(False, False, "shutdown"))
        return self.machine.state.value

    async def _open_until(self, limit: float) -> None:
        while self.machine.state == State.OPENING and self._clock() < limit:
            await self._send_once()
            try:
                async with asyncio.timeout(max(0.0, limit - self._clock())):  # a hung source
                    await self.sample()
            except Exception as exc:  # a stale pack still has to be waited for, not crash
                log.debug("%s: sample during shutdown: %s", self.name, exc)
            await asyncio.sleep(PERIOD_S)

    async def close(self) -> None:
        try:
            if self.machine.state != State.OPEN or self._pack not in (None, "open"):
                await self.shutdown()
        finally:
            if self.relays is not None:
                await self.relays.close()
            if self.pack_task is not None:
                self.pack_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.pack_task
            await self.source.close()
