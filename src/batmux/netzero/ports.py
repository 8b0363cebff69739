"""What the zero-export controller sees of meters, inverters and switches.

The controller (netzero/controller.py) only talks to these interfaces, so the same loop drives
AhoyDTU, OpenDTU and Shelly over HTTP in production, and plain models in the benchmark.
Every device object runs its own I/O cycle (`run`) and the controller only *requests* what it
wants; retries, confirmation waits and command priority belong to the device.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Clock(Protocol):
    """Injectable time so that a simulated day runs in seconds."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class PowerReading:
    """One live consumption value; positive watts = import from the grid."""

    watts: float
    at: float  # Clock.now() when it was received


class ConsumptionSource(Protocol):
    """A live grid/house meter (MQTT, HTTP JSON polling, or a sum of several)."""

    name: str
    signed: bool  # False: the meter cannot show export, so 0 W means "maybe exporting"

    def latest(self) -> PowerReading | None: ...

    async def run(self) -> None: ...


class DeviceStatus(StrEnum):
    """The field's generic device status values (homebattery MQTT payload `status`)."""

    ON = "on"
    SYNCING = "syncing"  # a command was sent and is not confirmed yet
    OFF = "off"
    FAULT = "fault"
    OFFLINE = "offline"


@dataclass(frozen=True)
class InverterState:
    status: DeviceStatus
    power_w: float | None  # measured AC output, None while unknown
    limit_w: float | None  # the limit last confirmed by the inverter, in watts
    error: str = ""  # last problem in one line, "" when fine


class Inverter(Protocol):
    """A micro-inverter behind a DTU; `request` is non-blocking, `run` does the talking."""

    name: str
    max_power_w: float
    min_power_w: float  # below this the inverter is switched off (LUT minimum)

    def request(self, watts: float) -> None:
        """Wanted AC output; 0 means off (or the lowest limit when it cannot be switched)."""

    def state(self) -> InverterState: ...

    async def run(self) -> None: ...


@dataclass(frozen=True)
class SwitchState:
    status: DeviceStatus
    on: bool | None
    power_w: float | None
    error: str = ""


class Switch(Protocol):
    """A switched load or charger (Shelly relay, Victron MPPT charging on/off)."""

    name: str
    power_w: float  # nominal draw (charger) when on

    def request(self, on: bool) -> None: ...

    def state(self) -> SwitchState: ...

    async def run(self) -> None: ...
