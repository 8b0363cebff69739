"""Shared bits of the BYD Modbus sink tests (a plain module, not a conftest)."""

from __future__ import annotations

import time

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.runtime.hub import StateHub
from batmux.sinks.byd_modbus import BydModbusEmulator
from batmux.sinks.inverter_config import BydModbusInverterConfig


def good_state(soc: float = 55.5, power_w: float = -1500.0, fresh: bool = True) -> BatteryState:
    sample = BatterySample(
        timestamp=time.time(),
        voltage_v=52.0,
        power_w=power_w,
        soc_pct=soc,
        capacity_ah=280.0,
        temperatures_c=(18.2, 24.9),
        mos_temperature_c=31.0,
        soh_pct=97.5,
    )
    limits = ChargeLimits(56.8, 100.0, 150.0, 46.4)
    return BatteryState("bank", True, sample, Meters(1234.5678, 1000.0), limits,
                        last_good_at=time.time() if fresh else 0.0)  # fmt: skip


def tcp_emulator(hub: StateHub, **kw: object) -> BydModbusEmulator:
    stale_after_s = kw.pop("stale_after_s", None)
    cfg = BydModbusInverterConfig.model_validate(
        {"name": "gen24", "type": "byd_modbus", "battery": "bank", "listen": "127.0.0.1:0", **kw}
    )
    return BydModbusEmulator(cfg, hub, stale_after_s=stale_after_s)  # type: ignore[arg-type]


def address(emulator: BydModbusEmulator) -> str:
    assert emulator.bound_address is not None
    host, port = emulator.bound_address
    return f"{host}:{port}"
