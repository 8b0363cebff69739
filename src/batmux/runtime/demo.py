"""The embedded default for ``batmux demo``: three simulated batteries of three BMS families,
two of them in a parallel bank with charge limits, the bank emulated as a BYD battery for a
simulated Fronius Gen24 that runs the real Modbus start-up sequence and polls it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

DEMO_BATTERIES: list[dict[str, Any]] = [
    {
        "name": "jk_garage",
        "type": "jk",
        "sim": {
            "cells": 16,
            "capacity_ah": 280,
            "soc": 64,
            "firmware": "11.48",
            "load": {"kind": "sine", "amplitude": 40, "period": 300},
        },
    },
    {
        "name": "jbd_garage",
        "type": "jbd",
        "sim": {
            "cells": 16,
            "capacity_ah": 200,
            "soc": 58,
            "seed": 2,
            "load": {"kind": "sine", "amplitude": 28, "period": 300},
        },
    },
    {
        "name": "daly_rv",
        "type": "daly_modbus",
        "sim": {
            "cells": 4,
            "capacity_ah": 100,
            "soc": 80,
            "seed": 3,
            "corrupt_rate": 0.05,
            "load": {"kind": "sine", "amplitude": 15, "period": 120, "offset": -5},
        },
    },
]


def demo_config(
    mqtt_url: str | None, state_dir: str, modbus_port: int, web_port: int | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "sample_period": 1.0,
        "publish_period": 2.0,
        "expire_after": 30.0,
        "state_dir": state_dir,
        "batteries": [dict(b, address="sim") for b in DEMO_BATTERIES],
        "groups": [
            {"name": "bank", "mode": "parallel", "members": ["jk_garage", "jbd_garage"]},
        ],
        "inverters": [
            {
                "name": "gen24",
                "type": "byd_modbus",
                "battery": "bank",
                "listen": f"127.0.0.1:{modbus_port}",
            },
        ],
    }
    if mqtt_url:
        config["mqtt"] = {"url": mqtt_url}
    if web_port:
        config["web"] = {"listen": f"127.0.0.1:{web_port}"}
    return config


async def simulated_gen24(port: int, status: dict[str, Any]) -> None:
    """A Gen24-like master on the demo's Modbus port; ``status`` gets what it last saw."""
    from batmux.links.modbus import ModbusLink
    from batmux.sim.gen24 import Gen24Sim

    await asyncio.sleep(2.5)  # let the first bank state reach the emulator
    link = ModbusLink(f"127.0.0.1:{port}", 21, timeout_s=2.0)
    sim = Gen24Sim(link, poll_period_s=2.0, keepalive_period_s=10.0)
    try:
        if not await sim.startup():
            status["gen24"] = "start-up failed"
            return
        while True:
            await asyncio.sleep(sim.poll_period_s)
            sample = await sim.read_live()
            if sample is not None:
                status["gen24"] = (
                    f"Gen24 (simulated) sees: {sample.extra.get('byd_state', '?')}, "
                    f"SoC {sample.soc_pct} %, {sample.voltage_v} V, "
                    f"{sample.extra.get('max_charge_power_w', '?')} W charge / "
                    f"{sample.extra.get('max_discharge_power_w', '?')} W discharge allowed"
                )
    finally:
        with contextlib.suppress(Exception):
            link.close()
