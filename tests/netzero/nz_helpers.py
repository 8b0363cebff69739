"""Shared pieces of the zero-export tests: an injected clock that jumps, waiting on it, a house
on a model inverter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from batmux.netzero.config import NetzeroConfig
from batmux.netzero.consumption import MqttConsumption, SumConsumption
from batmux.netzero.guards import BatteryView
from batmux.netzero.ports import DeviceStatus, SwitchState
from batmux.netzero.runtime import NetzeroRunner
from batmux.sim.house import encode_meter
from batmux.sim.hoymiles import HoymilesModel
from batmux.sim.netzero_inverter import ModelInverter


class JumpClock:
    """Injected ``Clock``: ``sleep`` moves time on at once, so 60 s of retries take milliseconds.

    Several device loops may share it; each sleep still yields to the event loop, so real
    HTTP on loopback interleaves with simulated time. Synchronous rigs set ``t`` directly.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0.001)


async def until(check: Callable[[], bool], clock: JumpClock, within_s: float) -> float:
    """Wait until ``check()``; fail if simulated time passes ``within_s`` first. Returns the
    simulated seconds it took."""
    start = clock.now()
    async with asyncio.timeout(10):
        while not check():
            if clock.now() - start > within_s:
                raise AssertionError(f"not within {within_s} s (simulated)")
            await asyncio.sleep(0.001)
    return clock.now() - start


@dataclass
class RelaySwitch:
    """A relay that does what it is told at once (the Switch port without a device)."""

    name: str
    power_w: float
    on: bool = False
    requests: list[bool] = field(default_factory=list)

    def request(self, on: bool) -> None:
        self.requests.append(on)
        self.on = on

    def state(self) -> SwitchState:
        return SwitchState(DeviceStatus.ON if self.on else DeviceStatus.OFF, self.on, 0.0)

    async def run(self) -> None:
        raise NotImplementedError


HEALTHY = BatteryView(
    age_s=1.0, stale_after_s=10.0, cell_min_v=3.3, cell_max_v=3.35, temp_min_c=20.0,
    temp_max_c=22.0, voltage_v=52.0, ccl_a=50.0, dcl_a=50.0,
)  # fmt: skip


class Rig:
    """A house with a constant load (settable), one 600 W inverter and a relay, run per second."""

    def __init__(self, load_w: float = 400.0, mode: str = "discharge", **guards: float) -> None:
        self.clock = JumpClock()
        self.cfg = NetzeroConfig.model_validate(
            {
                "battery": "bank",
                "mode": mode,
                "consumption": [{"mqtt": {"topic": "meter", "format": "int16"}}],
                "guards": guards,
            }
        )
        self.meter = MqttConsumption(self.cfg.consumption[0].mqtt, self.clock)  # type: ignore[arg-type]
        self.inverter = ModelInverter("hm600", HoymilesModel(600.0, seed=3, min_output_w=18.0))
        self.inverter.model.limit_percent = 0.0
        self.relay = RelaySwitch("charger", 300.0)
        self.load_w = load_w
        self.battery = HEALTHY
        self.meter_on = True
        self.runner = NetzeroRunner(
            self.cfg,
            clock=self.clock,
            consumption=SumConsumption([self.meter]),
            inverters=[self.inverter],
            switches=[self.relay],
            battery=lambda: self.battery,
            roles={"charger": "charger"},
        )

    def ac_w(self) -> float:
        return self.inverter.model.ac_power_w(self.clock.t)

    def grid_w(self) -> float:
        return self.load_w - self.ac_w() + (self.relay.power_w if self.relay.on else 0.0)

    def second(self) -> None:
        self.clock.t += 1.0
        if self.meter_on:
            self.meter.feed(encode_meter(self.grid_w(), "int16"))
        self.runner.tick()
        self.inverter.tick(self.clock.t)

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.second()

    def seconds_until(self, predicate, limit: int = 120) -> int:  # type: ignore[no-untyped-def]
        for k in range(limit):
            if predicate():
                return k
            self.second()
        raise AssertionError(f"not within {limit} s")


async def cancel_all(tasks: list[asyncio.Task[object]]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
