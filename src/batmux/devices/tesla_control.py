"""Contactor control of a Tesla Model 3/Y pack: the 0x221 keep-alive under ``PackControl``.

While the state machine is in precharge/closing/closed the DRIVE pair (mux 0, mux 1) of 0x221
goes out every 50 ms with its 4-bit counter and checksum (``protocols.tesla_keepalive``);
opening sends ACCESSORY, GOING_DOWN and OFF for ``open_step_s`` each (3 s on a car), then
silence, and waits for the pack to report open. Alongside, in a task of its own on a 10 ms grid
(so it never delays 0x221), the vehicle-presence frames (``protocols.tesla_presence``: 0x118,
0x2E1, 0x3C2, 0x39D, 0x7FF, ...; 0x3A1 only while the pack reports closed) go out whenever
0x221 does, and never otherwise (``contactors.presence_frames: false`` turns them off for old
firmware). Interlocks, commands, relays and shutdown are ``PackControl``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from batmux.core.contactor import State
from batmux.devices.can_source import CanSource
from batmux.devices.pack_control import PERIOD_S, PackControl, interlocks
from batmux.errors import BatmuxError
from batmux.protocols import tesla_keepalive as ka
from batmux.protocols.candump import Frame
from batmux.protocols.tesla_presence import TICK_S, CarConfig, Presence

__all__ = ["DRIVE", "OPEN_SEQUENCE", "PERIOD_S", "TeslaControl", "interlocks"]

log = logging.getLogger(__name__)

# Battery-Emulator's frames (vector tesla_m3y_0x221_checksum); counters are rewritten per send.
DRIVE = (bytes.fromhex("605555155451F1D8"), bytes.fromhex("61055505000000E3"))
OPEN_SEQUENCE = (
    (bytes.fromhex("405555055451F5AC"), bytes.fromhex("4105555501000418")),  # ACCESSORY
    (bytes.fromhex("00895506A451F1ED"), bytes.fromhex("01095559000000DB")),  # GOING_DOWN
    (bytes.fromhex("000100000050F165"), bytes.fromhex("0101015000000076")),  # OFF
)


class TeslaControl(PackControl):
    def __init__(
        self,
        source: CanSource,
        contactors: Any,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> None:
        super().__init__(source, contactors, clock, **kw)
        self._counter = 0
        self.presence: Presence | None = None  # the other vehicle-presence frames
        if getattr(contactors, "presence_frames", True):
            car = getattr(contactors, "car_config", None)
            self.presence = Presence(CarConfig(**car.model_dump()) if car else CarConfig())
        self.presence_sent = 0
        self._presence_failing = False
        self._presence_running = False  # the gateway's task, or shutdown's own

    def _open_step(self) -> int | None:
        """Which 0x221 pair is due: -1 DRIVE, 0-2 the open sequence, None silence."""
        if self.machine.sending:
            return -1
        if self.machine.state == State.OPENING:
            step = int((self._clock() - self.machine.since) / self.open_step_s)
            return step if step < len(OPEN_SEQUENCE) else None
        return None

    def frames_now(self) -> tuple[bytes, bytes] | None:
        """The 0x221 pair to send now, or None for silence."""
        step = self._open_step()
        if step is None:
            return None
        pair = DRIVE if step < 0 else OPEN_SEQUENCE[step]
        self._counter = (self._counter + 1) % 16
        return tuple(ka.with_counter(f, self._counter) for f in pair)  # type: ignore[return-value]

    def wire_frames(self) -> list[Frame] | None:
        """The 0x221 pair due now as (id, data), or None for silence."""
        pair = self.frames_now()
        return None if pair is None else [(ka.ID_LV_POWER_STATE, data) for data in pair]

    def loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        return [*super().loops(), ("presence", self.presence_loop())]

    def presence_now(self, tick: int) -> list[Frame]:
        """Tick ``tick``'s vehicle-presence frames: only while 0x221 is sent (DRIVE or the open
        sequence), as the car around the pack would; 0x3A1 only while the pack says closed."""
        if self.presence is None or self.muted or self._open_step() is None:
            return []
        return self.presence.frames_at(tick, closed=self._pack == "closed")

    async def presence_loop(self) -> None:
        """Send the presence frames on a 10 ms grid until cancelled (one loop at a time: the
        gateway's task, or shutdown's own once the gateway's tasks are gone)."""
        if self.presence is None or self._presence_running:
            return
        self._presence_running = True
        try:
            loop = asyncio.get_running_loop()
            await self.source.link.open()
            due, tick = loop.time(), 0
            while True:
                await self._send_presence(tick)
                tick += 1
                due = max(due + TICK_S, loop.time() - TICK_S)  # no burst after a stall
                await asyncio.sleep(max(0.0, due - loop.time()))
        finally:
            self._presence_running = False

    async def _send_presence(self, tick: int) -> None:
        """A failed send is logged (once per streak) and skipped: these frames must not take
        the 0x221 task down with them."""
        frames = self.presence_now(tick)
        try:
            await self.source.link.send_all(frames)
        except BatmuxError as exc:
            if not self._presence_failing:
                log.warning("%s: vehicle-presence frames not sent: %s", self.name, exc)
            self._presence_failing = True
            return
        self._presence_failing = False
        self.presence_sent += len(frames)

    async def shutdown(self, timeout_s: float | None = None) -> str:
        """``PackControl.shutdown`` with the car kept "present" through the open sequence (the
        gateway's tasks, the presence loop among them, are gone by now)."""
        if self.presence is None:
            return await super().shutdown(timeout_s)
        presence = asyncio.create_task(self.presence_loop(), name=f"{self.name}-presence-off")
        try:
            return await super().shutdown(timeout_s)
        finally:
            presence.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await presence
