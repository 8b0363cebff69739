"""A Shelly relay as a ``Switch`` (grid charger or heater).

Gen1 (homebattery's anyshelly driver): GET ``/relay/<id>?turn=on&timer=300`` (the relay turns
itself off after 300 s unless the command is re-sent, so a dead gateway cannot leave a charger
on) and ``?turn=off``; state GET ``/relay/<id>`` → ``ison``; power GET ``/meter/<id>`` →
``power`` (a Shelly without a meter answers 404: power stays unknown).
Gen2+ RPC: GET ``/rpc/Switch.Set?id=<id>&on=true&toggle_after=300`` / ``on=false``; state and
power GET ``/rpc/Switch.GetStatus?id=<id>`` → ``output``, ``apower``.
The generation is taken from GET ``/shelly`` (Gen2+ answers ``"gen": 2`` or higher) unless the
config names it. Commands get 3 attempts 1 s apart; state is read every 2 s.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import aiohttp

from batmux.netzero.devices.http import (
    DeviceError,
    DeviceUnreachable,
    base_url,
    number,
    request_json,
    with_retries,
)
from batmux.netzero.ports import Clock, DeviceStatus, SwitchState

log = logging.getLogger(__name__)

AUTO_OFF_S = 300  # the relay's own safety timer
RESEND_S = 60.0  # re-arm the timer well before it runs out (the field: at least every 120 s)


class ShellySwitch:
    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        url: str,
        *,
        relay: int = 0,
        gen: int | None = None,
        power_w: float = 0.0,
        clock: Clock,
        timeout_s: float = 5.0,
        cycle_s: float = 2.0,
        attempts: int = 3,
        retry_s: float = 1.0,
    ) -> None:
        self.name = name
        self.session = session
        self.url = base_url(url)
        self.relay = relay
        self.gen = gen
        self.power_w = power_w
        self.clock = clock
        self.timeout_s = timeout_s
        self.cycle_s = cycle_s
        self.attempts = attempts
        self.retry_s = retry_s
        self.commands_sent = 0
        self._want: bool | None = None
        self._on: bool | None = None
        self._power: float | None = None
        self._has_meter = True
        self._armed_at = -math.inf  # when the auto-off timer was last (re)started
        self._error = ""
        self._offline = True

    def request(self, on: bool) -> None:
        if on != self._want:
            self._want = on
            self._armed_at = -math.inf

    def state(self) -> SwitchState:
        if self._error:
            status = DeviceStatus.OFFLINE if self._offline else DeviceStatus.FAULT
            return SwitchState(status, None, None, self._error)
        if self._on is None:
            return SwitchState(DeviceStatus.OFFLINE, None, None, "not read yet")
        status = DeviceStatus.ON if self._on else DeviceStatus.OFF
        if self._want is not None and self._want != self._on:
            status = DeviceStatus.SYNCING
        return SwitchState(status, self._on, self._power, "")

    async def run(self) -> None:
        while True:
            await self.step()
            await self.clock.sleep(self.cycle_s)

    async def step(self) -> None:
        try:
            if self.gen is None:
                self.gen = await self._detect()
            await self._read()
            if self._want is not None and self._due():
                await self._command(self._want)
        except DeviceError as exc:
            if str(exc) != self._error:
                log.warning("%s: %s", self.name, exc)
            self._error, self._offline = str(exc), isinstance(exc, DeviceUnreachable)
            return
        if self._error:
            log.info("%s: Shelly answers again", self.name)
        self._error, self._offline = "", False

    def _due(self) -> bool:
        if self._want != self._on:
            return True
        return bool(self._want) and self.clock.now() - self._armed_at >= RESEND_S

    async def _get(self, path: str) -> Any:
        data = await request_json(self.session, "GET", self.url + path, timeout_s=self.timeout_s)
        if not isinstance(data, dict):
            raise DeviceError(f"GET {self.url}{path}: expected a JSON object")
        return data

    async def _detect(self) -> int:
        data = await self._get("/shelly")
        gen = data.get("gen", 1)
        gen = int(number(gen, "gen")) if gen is not None else 1
        log.info("%s: Shelly generation %d", self.name, gen)
        return gen

    async def _read(self) -> None:
        if self.gen == 1:
            data = await self._get(f"/relay/{self.relay}")
            self._on = _flag(data, "ison")
            if self._has_meter:
                try:
                    meter = await self._get(f"/meter/{self.relay}")
                    self._power = number(meter.get("power"), "power")
                except DeviceError as exc:
                    if "HTTP 404" not in str(exc):
                        raise
                    self._has_meter, self._power = False, None
        else:
            data = await self._get(f"/rpc/Switch.GetStatus?id={self.relay}")
            self._on = _flag(data, "output")
            self._power = number(data["apower"], "apower") if "apower" in data else None

    async def stop(self) -> None:
        """batmux is stopping: switch the relay off now instead of waiting for its timer."""
        if self._on is False:
            return
        try:
            await self._command(False)
        except DeviceError as exc:
            log.warning("%s: could not switch off on stop (its %d s timer will): %s",
                        self.name, AUTO_OFF_S, exc)  # fmt: skip

    async def _command(self, on: bool) -> None:
        if self.gen == 1:
            path = f"/relay/{self.relay}?turn=on&timer={AUTO_OFF_S}" if on else ""
            path = path or f"/relay/{self.relay}?turn=off"
        else:
            path = f"/rpc/Switch.Set?id={self.relay}&on=true&toggle_after={AUTO_OFF_S}"
            path = path if on else f"/rpc/Switch.Set?id={self.relay}&on=false"
        try:
            data = await with_retries(
                lambda: self._get(path), self.clock, self.attempts, self.retry_s
            )
        except DeviceError as exc:
            raise DeviceError(f"{path} failed {self.attempts}×: {exc}") from None
        self.commands_sent += 1
        if self.gen == 1:
            self._on = _flag(data, "ison")
        else:
            self._on = on  # Switch.Set answers {"was_on": ...}; the next read confirms
        if on:
            self._armed_at = self.clock.now()
        log.info("%s: relay %d %s", self.name, self.relay, "on" if on else "off")


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise DeviceError(f"Shelly: '{key}' is not a boolean: {value!r}")
    return value
