"""`batmux demo --netzero`: the zero-export loop holding a simulated house near 0 W.

A simulated battery (the demo's JK pack), the simulated house (sim/house.py, started 30 s
before its first big load step after 17:00: kettle or oven), its meter served as JSON over
loopback HTTP, and a Hoymiles HM-600 behind the simulated AhoyDTU (batmux.sim.ahoydtu) that
batmux drives over loopback HTTP exactly as a real one. Prints the house's clock, load,
inverter output, grid power and the inverter's limit every 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

LEAD_S = 30  # the house's clock starts this long before its first big step after 17:00


def netzero_demo_config(state_dir: str, meter_url: str, dtu_url: str) -> dict[str, Any]:
    from batmux.runtime.demo import DEMO_BATTERIES

    pack = dict(DEMO_BATTERIES[0], address="sim", name="pack")
    return {
        "sample_period": 1.0,
        "publish_period": 2.0,
        "state_dir": state_dir,
        "batteries": [pack],
        "netzero": {
            "battery": "pack",
            "target_w": 10,
            "consumption": [{"http": {"url": f"{meter_url}/status", "path": "total_power",
                                      "interval": 1}}],
            "inverters": [{"type": "ahoydtu", "url": dtu_url, "id": 0, "max_power": 600,
                           "name": "hm600"}],
        },
    }  # fmt: skip


async def run_netzero_demo(duration_s: float, state_dir: str) -> int:
    try:
        from batmux.sim.ahoydtu import AhoyDtuSim
    except ImportError:
        print(
            "batmux demo --netzero: the AhoyDTU simulator (batmux.sim.ahoydtu) is not part of "
            "this build; the zero-export demo needs it."
        )
        return 2
    from batmux.cli import build_gateway
    from batmux.config import parse_config
    from batmux.netzero.ports import MonotonicClock
    from batmux.sim.house import House, HttpMeterServer
    from batmux.sim.hoymiles import HoymilesModel

    clock = MonotonicClock()
    house = House(seed=1)
    house_start_s = house.next_step(17 * 3600) - LEAD_S
    model = HoymilesModel(600.0, seed=1)
    model.limit_percent = 0.0
    t0 = clock.now()

    def grid_w() -> float:
        now = clock.now()
        return house.grid_w(house_start_s + now - t0, model.ac_power_w(now))

    meter = HttpMeterServer(grid_w)
    dtu = AhoyDtuSim([model], clock)
    dtu.record = False  # the demo may run for hours: keep no request log
    meter_url = await meter.start()
    dtu_url = await dtu.start()
    print(f"batmux demo --netzero: house meter on {meter_url}/status, AhoyDTU on {dtu_url}")
    config = parse_config(netzero_demo_config(state_dir, meter_url, dtu_url), "<demo>")
    gateway = build_gateway(config)

    async def report() -> None:
        while True:
            await asyncio.sleep(2.0)
            now = clock.now()
            second = int(house_start_s + now - t0)
            print(
                f"{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}  load "
                f"{house.load_w(house_start_s + now - t0):6.0f} W  inverter "
                f"{model.ac_power_w(now):5.0f} W  grid {grid_w():6.0f} W"
                f"  (limit {model.limit_percent:.0f} %)",
                flush=True,
            )

    started = time.monotonic()
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration_s):
                await gateway.run([report()])
    finally:
        await dtu.stop()
        await meter.stop()
    print(f"batmux demo --netzero: ran {time.monotonic() - started:.0f} s")
    return 0
