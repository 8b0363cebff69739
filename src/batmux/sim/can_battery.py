"""Simulated CAN batteries, driven by a ``SimBattery`` and built by the project's encoders.

* Pylontech LV: every second the real 0x351/0x355/0x356/0x359/0x35C/0x35E frames, from the
  same ``build_frames`` the Pylontech inverter emulation uses.
* BYD HVS ("BYD CAN"): our BYD CAN emulator (``sinks/byd_can.py``) fed by the simulated pack,
  so ids, periods (0x110 every 2 s; 0x150/0x1D0/0x210 every 10 s; 0x190 every 60 s) and
  scaling are exactly what the emulation sends. A BYD battery is silent until an inverter
  talks, so a simulated inverter (``sim/can_inverter.py``) shares the bus and wakes it.

``type: pylontech_can`` / ``type: byd_can`` with ``address: sim`` read these through the real
CAN source on python-can's in-process virtual bus.
"""

from __future__ import annotations

import asyncio

from batmux.links.can_bus import CanLink
from batmux.protocols.pylontech_can_encode import build_frames
from batmux.sim.battery import SimBattery
from batmux.sim.bms import SimStateHub, sim_state
from batmux.sim.can_inverter import BydCanInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig, BydCanPeriods

INVERTER_FRAMES_KEPT = 100  # the waking inverter's receive log, bounded for long runs


def battery_frames(name: str, battery: SimBattery) -> list[tuple[int, bytes]]:
    """One 1 s Pylontech cycle of frames for the battery's current state."""
    state = sim_state(name, battery)
    assert state.limits is not None
    return build_frames(state, state.limits)


async def run_pylontech_battery(
    name: str, battery: SimBattery, link: CanLink, period_s: float = 1.0
) -> None:
    """Send a cycle every ``period_s`` until cancelled."""
    async with link:
        while True:
            await link.send_all(battery_frames(name, battery))
            await asyncio.sleep(period_s)


async def run_byd_can_battery(
    name: str,
    battery: SimBattery,
    link: CanLink,
    periods: BydCanPeriods | None = None,
    inverter_period_s: float = 2.0,
) -> None:
    """A BYD battery and the inverter that wakes it, on ``link``'s bus, until cancelled.

    ``periods`` defaults to the real BYD schedule; tests shrink it.
    """
    cfg = BydCanInverterConfig(
        type="byd_can",
        name=f"{name}-sim",
        battery=name,
        can=link.config,
        periods=periods or BydCanPeriods(),
    )
    battery_side = BydCanSink(cfg, SimStateHub(name, battery), link)
    inverter = BydCanInverterSim(
        CanLink(link.config), period_s=inverter_period_s, keep=INVERTER_FRAMES_KEPT
    )
    # the battery listens before the inverter's first request
    async with link, running(inverter):
        await battery_side.run()
