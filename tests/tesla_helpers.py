"""Shared by the Tesla contactor tests: a gateway with the simulated pack, and waits."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.protocols.inverter_limits import LimitKeeper
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire

# no 30 s hold after the contactors were open: the test watches the limits follow them
LIMITS = {"stale_after": 2.0, "hold_s": 0, "ramp_a_per_s": 1000}


def tesla(tmp_path: Path, **pack: Any) -> Gateway:
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "limits": LIMITS}
    battery["sim"] = {"cells": 108}  # LFP: the default (LFP) limits apply
    config = parse_config(
        {
            "sample_period": 0.1,
            "publish_period": 0.2,
            "state_dir": str(tmp_path),
            "batteries": [{**battery, **pack}],
        }
    )
    gateway = Gateway(config)
    wire(gateway)  # limits come from the bank engine
    return gateway


CONTROL = {"allow_control": True, "contactors": {"close_on_start": True, "open_step_s": 0.2}}


async def until(check: Any, timeout: float = 8.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


def contactor(gateway: Gateway) -> str | None:
    state = gateway.hub.latest("tesla")
    if state is None or state.sample is None:
        return None
    return str(state.sample.extra.get("contactor"))


def limits(gateway: Gateway) -> tuple[float, float]:
    state = gateway.hub.latest("tesla")
    got = LimitKeeper(safe_charge_voltage_v=400.0).limits(state, time.time())
    assert got is not None
    return got.charge_current_a, got.discharge_current_a


@contextlib.asynccontextmanager
async def running(gateway: Gateway):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(gateway.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
