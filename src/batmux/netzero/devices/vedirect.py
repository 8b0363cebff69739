"""A Victron MPPT's charging as a ``Switch``: HEX Set of register 0x0200 (device mode) on the
VE.Direct link batmux already reads.

The runtime hands over the battery's source (``vedirect_switch(name)``); all this needs of it is
``set_switch("charge", on)`` (HEX Set 0x0200 = 1 on / 4 off, answer checked against the value;
``VeDirectSource`` only sends it with ``allow_control: true``) and, if present, the text
fields for the panel power. The mode is written only when it differs from what was confirmed,
and re-written every ``refresh_s`` in case someone changed it on the charger.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

from batmux.errors import BatmuxError
from batmux.netzero.ports import Clock, DeviceStatus, SwitchState

log = logging.getLogger(__name__)


class ChargeWriter(Protocol):
    async def set_switch(self, switch: str, on: bool) -> None: ...


class VeDirectChargeSwitch:
    def __init__(
        self,
        name: str,
        writer: ChargeWriter,
        *,
        clock: Clock,
        power_w: float = 0.0,
        cycle_s: float = 2.0,
        refresh_s: float = 300.0,
    ) -> None:
        self.name = name
        self.writer = writer
        self.clock = clock
        self.power_w = power_w
        self.cycle_s = cycle_s
        self.refresh_s = refresh_s
        self.commands_sent = 0
        self._want: bool | None = None
        self._on: bool | None = None
        self._written_at = -math.inf
        self._error = ""

    def request(self, on: bool) -> None:
        self._want = on

    def state(self) -> SwitchState:
        if self._error:
            return SwitchState(DeviceStatus.FAULT, self._on, self._panel_w(), self._error)
        if self._on is None:
            return SwitchState(DeviceStatus.OFFLINE, None, None, "not written yet")
        status = DeviceStatus.ON if self._on else DeviceStatus.OFF
        if self._want is not None and self._want != self._on:
            status = DeviceStatus.SYNCING
        return SwitchState(status, self._on, self._panel_w(), "")

    def _panel_w(self) -> float | None:
        fields: Any = getattr(self.writer, "fields", None)
        try:
            return float(fields["PPV"]) if fields else None
        except (KeyError, TypeError, ValueError):
            return None

    async def run(self) -> None:
        while True:
            await self.step()
            await self.clock.sleep(self.cycle_s)

    async def step(self) -> None:
        want = self._want
        if want is None:
            return
        if want == self._on and self.clock.now() - self._written_at < self.refresh_s:
            return
        try:
            await self.writer.set_switch("charge", want)
        except BatmuxError as exc:
            if str(exc) != self._error:
                log.warning("%s: %s", self.name, exc)
            self._error = f"{type(exc).__name__}: {exc}"
            return
        self.commands_sent += 1
        self._on, self._written_at, self._error = want, self.clock.now(), ""
