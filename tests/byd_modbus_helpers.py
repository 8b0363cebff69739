"""Shared bits of the BYD Modbus sink tests (a plain module, not a conftest)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.runtime.hub import StateHub
from batmux.sinks.byd_modbus import BydModbusEmulator
from batmux.sinks.inverter_config import BydModbusInverterConfig
from conftest import VECTORS


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
    kw.setdefault("on_inverter_silent", "report")  # tests that read registers without a poll
    cfg = BydModbusInverterConfig.model_validate(
        {"name": "gen24", "type": "byd_modbus", "battery": "bank", "listen": "127.0.0.1:0", **kw}
    )
    return BydModbusEmulator(cfg, hub, stale_after_s=stale_after_s)  # type: ignore[arg-type]


def address(emulator: BydModbusEmulator) -> str:
    assert emulator.bound_address is not None
    host, port = emulator.bound_address
    return f"{host}:{port}"


def load_vector(name: str) -> dict:
    return json.loads((VECTORS / "modbus" / name).read_text())


def state_from_vector(exp: dict) -> BatteryState:
    """A battery state that should make a BYD battery report ``exp`` (vector field names)."""
    volts = exp["310_inner_voltage_V"]
    sample = BatterySample(
        timestamp=time.time(),
        voltage_v=volts,
        current_a=0.0,
        soc_pct=exp["303_soc_pct"],
        capacity_ah=exp["304_total_capacity_Wh"] / volts,
        temperatures_c=(exp["312_temp_min_C"], exp["313_temp_max_C"]),
        mos_temperature_c=exp["322_device_temp_C"],
        soh_pct=exp["323_soh_pct"],
    )
    limits = ChargeLimits(233.6, exp["307_max_charge_W"] / volts,
                          exp["306_max_discharge_W"] / volts, 160.0)  # fmt: skip
    meters = Meters(exp["314_317_charged_Wh"] / 1000, exp["318_321_discharged_Wh"] / 1000)
    return BatteryState("bank", True, sample, meters=meters, limits=limits)


@contextmanager
def socat_pair() -> Iterator[tuple[str, str]]:
    """Two linked ptys (what an RS485 cable between inverter and battery looks like)."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed: RTU tests need a pty pair (apt install socat)")
    proc = subprocess.Popen(
        ["socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ptys: list[str] = []
        assert proc.stderr is not None
        deadline = time.monotonic() + 5
        while len(ptys) < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if match := re.search(r"PTY is (\S+)", line):
                ptys.append(match.group(1))
        if len(ptys) < 2:
            pytest.skip("socat did not report two ptys")
        yield ptys[0], ptys[1]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
