"""A Victron MPPT's charging as a ``Switch``: HEX Set of register 0x0200 (device mode) on the
VE.Direct link batmux already reads.

The runtime hands over the battery's source (``vedirect_switch(name)``); all this needs of it is
``set_switch("charge", on)`` (HEX Set 0x0200 = 1 on / 4 off, answer checked against the value;
``VeDirectSource`` only sends it with ``allow_control: true``) and, if it has them,
``get_register`` (to check the mode now and then without writing) and the text ``fields`` (for
the panel power). The mode is written only when it differs from what the charger has.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

from batmux.errors import BatmuxError
from batmux.netzero.ports import Clock, DeviceStatus, SwitchState
from batmux.protocols.vedirect_hex import DEVICE_MODE_ON, REG_DEVICE_MODE

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
        check_s: float = 60.0,
    ) -> None:
        self.name = name
        self.writer = writer
        self.clock = clock
        self.power_w = power_w
        self.cycle_s = cycle_s
        self.check_s = check_s  # read the mode back this often (someone may change it)
        self.commands_sent = 0
        self._want: bool | None = None
        self._on: bool | None = None
        self._checked_at = -math.inf
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
        try:
            if want == self._on and self.clock.now() - self._checked_at >= self.check_s:
                await self._read_mode()
            if want != self._on:
                await self.writer.set_switch("charge", want)
                self.commands_sent += 1
                self._on, self._checked_at = want, self.clock.now()
        except BatmuxError as exc:
            if str(exc) != self._error:
                log.warning("%s: %s", self.name, exc)
            self._error = f"{type(exc).__name__}: {exc}"
            return
        self._error = ""

    async def _read_mode(self) -> None:
        get_register = getattr(self.writer, "get_register", None)
        if get_register is None:
            self._on = None  # cannot read it back: write it again
            return
        frame = await get_register(REG_DEVICE_MODE)
        self._on, self._checked_at = frame.value_int() == DEVICE_MODE_ON, self.clock.now()
