"""A HoymilesModel behind the field's DTU command cycle, as an `Inverter` port without HTTP.

The benchmark and the controller tests drive this adapter instead of a DTU over HTTP: a TX
cycle every second (`tick`), reads every 2 s, and after a limit command it waits (status
syncing) until the inverter reports the new limit or 30 s have passed, as homebattery's AhoyDTU
adapter does (shared/protocols/netzero.md §8.2). Limits are whole percent, the largest not above
the wanted watts (a linear LUT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batmux.netzero.ports import DeviceStatus, InverterState
from batmux.sim.hoymiles import HoymilesModel

CONFIRM_WAIT_S = 30.0
READ_PERIOD_S = 2.0


@dataclass
class ModelInverter:
    name: str
    model: HoymilesModel
    commands: int = 0
    _want_w: float = 0.0
    _sent: float | None = None  # percent awaiting confirmation
    _deadline: float = 0.0
    _next_read: float = 0.0
    _read_limit: float = 100.0
    _read_power: float | None = None
    _read_on: bool = True
    switch_off: bool = True  # 0 W switches the inverter off (False: limit 0 % instead)

    @property
    def max_power_w(self) -> float:
        return self.model.max_power_w

    @property
    def min_power_w(self) -> float:
        return self.model.min_output_w

    def request(self, watts: float) -> None:
        self._want_w = max(0.0, watts)

    def percent(self, watts: float) -> float:
        return float(max(0, min(100, math.floor(watts / self.model.max_power_w * 100 + 1e-9))))

    def state(self) -> InverterState:
        if not self._read_on:
            status = DeviceStatus.OFF
        else:
            status = DeviceStatus.SYNCING if self._sent is not None else DeviceStatus.ON
        limit_w = self._read_limit * self.model.max_power_w / 100
        return InverterState(status, self._read_power, limit_w)

    def tick(self, now: float) -> None:
        """One TX cycle (call every second). Switch-off first (the field's priority: it is
        not held back by a pending confirmation), then a limit change, then switch-on."""
        if now >= self._next_read:
            self._read(now)
        if self._want_w <= 0 and self.switch_off and self.model.producing:
            self.model.set_power(False)
            self.commands += 1
            self._sent = None
            self._read(now)
            return
        if self._sent is not None:
            if self._read_limit == self._sent or now >= self._deadline:
                self._sent = None
            else:
                return
        if self._want_w > 0 and not self.model.producing:
            self.model.set_power(True)
            self.commands += 1
            self._read(now)
            return
        target = self.percent(self._want_w)
        if target != self._read_limit:
            self.model.set_limit_percent(target, now)
            self.commands += 1
            self._sent, self._deadline = target, now + CONFIRM_WAIT_S

    def _read(self, now: float) -> None:
        self._next_read = now + READ_PERIOD_S
        self._read_limit = self.model.limit_percent
        self._read_on = self.model.producing
        self._read_power = self.model.reported_power_w(now)

    async def run(self) -> None:  # the port's I/O cycle: ticked by its owner instead
        raise NotImplementedError("tick() it from the simulation loop")
