"""A simulated Batrium WatchMon on a CAN bus: the native CAN 2.0 frames of a ``SimBattery``.

29-bit ids from ``base_id`` at the periods a WatchMon uses (100 ms: cells, shunt, targets,
flags; 1 s: temperatures, bypass, SoC; 10 s: versions), built with the codec's own layout
tables. ``type: batrium`` with ``address: sim`` reads it through the real CAN source on
python-can's in-process virtual bus. ``critical_ok`` set False trips the critical relay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from batmux.links.can_bus import CanLink
from batmux.protocols import batrium as b
from batmux.sim.battery import SimBattery
from batmux.sim.bms import sim_limits

TICK_S = 0.1  # the fastest period; the others are whole multiples of it


@dataclass
class BatriumSimDevice:
    battery: SimBattery
    base_id: int = b.DEFAULT_BASE_ID
    serial: int = 1234
    critical_ok: bool = True

    def frames(self, offsets: tuple[int, ...]) -> list[tuple[int, bytes]]:
        s = self.battery.truth()
        cells = list(s.cell_voltages_v) or [0.0]
        low, high = min(cells), max(cells)
        temps = s.temperatures_c or (25.0,)
        limits = sim_limits(self.battery)
        flag_on = b.FLAG_ON
        values: dict[int, dict[str, float]] = {
            b.VERSION: {"hardware": 0x0201, "firmware": 0x0204, "serial": self.serial},
            b.CELLS: {
                "cell_min": low,
                "cell_max": high,
                "cell_avg": sum(cells) / len(cells),
                "cell_min_id": cells.index(low) + 1,
                "cell_max_id": cells.index(high) + 1,
            },
            b.TEMPS: {
                "temp_min": round(min(temps)) + b.TEMP_OFFSET,
                "temp_max": round(max(temps)) + b.TEMP_OFFSET,
                "temp_avg": round(sum(temps) / len(temps)) + b.TEMP_OFFSET,
                "temp_min_id": temps.index(min(temps)) + 1,
                "temp_max_id": temps.index(max(temps)) + 1,
            },
            b.BYPASS: {"cells_in_bypass": 0},
            b.SHUNT: {
                "voltage": s.voltage_v or 0.0,
                "current": s.current_a or 0.0,
                "shunt_power": s.power_w or 0.0,
            },
            b.STATE: {
                "soc": self.battery.soc_pct,
                "soh": s.soh_pct or 100.0,
                "remaining_ah": s.charge_ah or 0.0,
                "nominal_ah": self.battery.capacity_ah,
            },
            b.TARGETS: {
                "charge_voltage_limit": limits.charge_voltage_v,
                "charge_current_limit": limits.charge_current_a,
                "discharge_voltage_limit": limits.discharge_voltage_v,
                "discharge_current_limit": limits.discharge_current_a,
            },
            b.FLAGS: {
                "critical": flag_on if self.critical_ok else 0,
                "charge": flag_on if self.battery.charge_enabled else 0,
                "discharge": flag_on if self.battery.discharge_enabled else 0,
                "balancing": flag_on if self.battery.balancing else 0,
            },
        }
        return [b.encode(self.base_id, o, values[o]) for o in offsets]

    def due(self, tick: int) -> tuple[int, ...]:
        """The offsets whose period ends at this 100 ms tick."""
        every = {o: round(period / TICK_S) for o, (_, period) in b.OFFSETS.items()}
        return tuple(o for o, n in every.items() if tick % n == 0)


async def run_batrium(device: BatriumSimDevice, link: CanLink, tick_s: float = TICK_S) -> None:
    """Send the WatchMon's frames (29-bit) on ``link`` until cancelled."""
    loop = asyncio.get_running_loop()
    async with link:
        start, tick = loop.time(), 0
        while True:
            for can_id, data in device.frames(device.due(tick)):
                await link.send(can_id, data, extended=True)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * tick_s - loop.time()))
