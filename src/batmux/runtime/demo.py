"""The embedded default for ``batmux demo``: three simulated batteries of three BMS families,
two of them in a parallel bank with charge limits, the bank emulated as a BYD battery for a
simulated Fronius Gen24 that runs the real Modbus start-up sequence and polls it. With
``--ev``: a simulated Tesla pack whose contactors batmux closes, served to the Gen24 instead."""

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


# NCA bricks: the limits' defaults (voltages and tables) are LFP values
NCA_LIMITS: dict[str, Any] = {
    "cell_voltage_max": 4.1,
    "cell_voltage_float": 4.0,
    "cell_voltage_min": 3.2,
    "hold_s": 5,  # the demo shows the limits coming back soon after the contactors closed
    "charge_cell_voltage_table": {
        "x": [4.0, 4.05, 4.08, 4.1, 4.15],
        "y": [1, 0.25, 0.05, 0.005, 0],
    },
    "discharge_cell_voltage_table": {
        "x": [3.5, 3.4, 3.3, 3.2, 3.1],
        "y": [1, 0.25, 0.05, 0.005, 0],
    },
}
# ``batmux demo --ev``: a Tesla Model 3 pack (96 NCA bricks) whose contactors batmux closes,
# served as a BYD battery to the simulated Gen24.
EV_BATTERY: dict[str, Any] = {
    "name": "tesla",
    "type": "tesla_model3",
    "sim": {"soc": 62, "seed": 4, "load": {"kind": "sine", "amplitude": 20, "period": 120}},
    "allow_control": True,
    "contactors": {"close_on_start": True, "open_step_s": 0.2},  # a car needs 3 s
    "limits": NCA_LIMITS,
}


def demo_config(
    mqtt_url: str | None,
    state_dir: str,
    modbus_port: int,
    web_port: int | None = None,
    ev: bool = False,
) -> dict[str, Any]:
    if ev:
        batteries, groups, served = [dict(EV_BATTERY, address="sim")], [], "tesla"
    else:
        batteries = [dict(b, address="sim") for b in DEMO_BATTERIES]
        groups = [{"name": "bank", "mode": "parallel", "members": ["jk_garage", "jbd_garage"]}]
        served = "bank"
    config: dict[str, Any] = {
        "sample_period": 1.0,
        "publish_period": 2.0,
        "expire_after": 30.0,
        "state_dir": state_dir,
        "batteries": batteries,
        "groups": groups,
        "inverters": [
            {
                "name": "gen24",
                "type": "byd_modbus",
                "battery": served,
                "listen": f"127.0.0.1:{modbus_port}",
            },
        ],
    }
    if mqtt_url:
        config["mqtt"] = {"url": mqtt_url}
    if web_port:
        config["web"] = {"listen": f"127.0.0.1:{web_port}"}
    return config


async def simulated_gen24(
    port: int, status: dict[str, Any], start_delay_s: float = 2.5, poll_s: float = 2.0
) -> None:
    """A Gen24-like master on the demo's Modbus port; ``status`` gets what it last saw."""
    from batmux.links.modbus import ModbusLink
    from batmux.sim.gen24 import Gen24Sim

    await asyncio.sleep(start_delay_s)  # let the first bank state reach the emulator
    link = ModbusLink(f"127.0.0.1:{port}", 21, timeout_s=2.0)
    sim = Gen24Sim(link, poll_period_s=poll_s, keepalive_period_s=10.0)
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
