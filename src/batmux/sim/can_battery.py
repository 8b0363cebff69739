"""A simulated Pylontech low-voltage battery on a CAN bus: every second it sends the real
0x351/0x355/0x356/0x359/0x35C/0x35E frames, built by the same encoder the inverter emulation
uses, from the state of a ``SimBattery``. ``type: pylontech_can`` with ``address: sim`` reads it
through the real CAN source on python-can's in-process virtual bus."""

from __future__ import annotations

import asyncio

from batmux.links.can_bus import CanLink
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from batmux.protocols.pylontech_can_encode import build_frames
from batmux.sim.battery import SimBattery

CELL_V_MAX, CELL_V_MIN = 3.55, 2.9  # what a Pylontech LFP module asks for


def battery_frames(name: str, battery: SimBattery) -> list[tuple[int, bytes]]:
    """One 1 s cycle of frames for the battery's current state."""
    sample = battery.truth()
    limits = ChargeLimits(
        charge_voltage_v=battery.cells * CELL_V_MAX,
        charge_current_a=battery.capacity_ah * 0.5 if battery.charge_enabled else 0.0,
        discharge_current_a=battery.capacity_ah if battery.discharge_enabled else 0.0,
        discharge_voltage_v=battery.cells * CELL_V_MIN,
        reason="bms",
    )
    state = BatteryState(name=name, available=True, sample=sample, limits=limits)
    return build_frames(state, limits)


async def run_pylontech_battery(
    name: str, battery: SimBattery, link: CanLink, period_s: float = 1.0
) -> None:
    """Send a cycle every ``period_s`` until cancelled."""
    async with link:
        while True:
            await link.send_all(battery_frames(name, battery))
            await asyncio.sleep(period_s)
