"""What simulated inverter-facing batteries share (Pylontech CAN, BYD CAN, BYD Modbus).

Such a battery's BMS publishes its state and its own charge limits; ``sim_state`` is that
view of a ``SimBattery``. ``SimStateHub`` serves it where the project's inverter emulators
expect a hub, so a simulated BYD battery is our BYD emulator fed by the simulated pack: the
frames and registers come from the same builders the real emulation uses. ``run_for`` ends a
simulated device after ``sim.stop_after`` seconds (the device goes silent, it is not
restarted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from batmux.runtime.hub import StateHub
from batmux.sim.battery import SimBattery

CELL_V_MAX, CELL_V_MIN = 3.55, 2.9  # what an LFP pack's BMS asks for


def sim_limits(battery: SimBattery) -> ChargeLimits:
    """The BMS's own limits: 0.5 C charge, 1 C discharge, 0 A where its MOSFET is off."""
    return ChargeLimits(
        charge_voltage_v=battery.cells * CELL_V_MAX,
        charge_current_a=battery.capacity_ah * 0.5 if battery.charge_enabled else 0.0,
        discharge_current_a=battery.capacity_ah if battery.discharge_enabled else 0.0,
        discharge_voltage_v=battery.cells * CELL_V_MIN,
        reason="bms",
    )


def sim_state(name: str, battery: SimBattery) -> BatteryState:
    """The battery's state now, as the inverter emulators read it from a hub."""
    sample = battery.truth()
    return BatteryState(
        name=name,
        available=True,
        sample=sample,
        limits=sim_limits(battery),
        last_good_at=sample.timestamp,
    )


class SimStateHub(StateHub):
    """A hub whose one battery is computed from the simulated pack at every ``latest()``."""

    def __init__(self, name: str, battery: SimBattery) -> None:
        super().__init__()
        self.name = name
        self.battery = battery

    def latest(self, name: str) -> BatteryState | None:
        return sim_state(self.name, self.battery) if name == self.name else None


async def run_for(seconds: float | None, device: Awaitable[None]) -> None:
    """Run a simulated device until cancelled, or only for ``seconds`` (then it is gone)."""
    if seconds is None:
        await device
        return
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            await device
    except TimeoutError:
        if not timer.expired():
            raise  # the device's own timeout, not ours
