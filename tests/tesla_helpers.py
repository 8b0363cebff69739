"""Shared by the Tesla contactor tests: a gateway with the simulated pack, and waits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.protocols.inverter_limits import LimitKeeper
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from mqtt_helpers import running
from sinks.can_bus_helpers import wait_until

# no 30 s hold after the contactors were open: the test watches the limits follow them
LIMITS = {"stale_after": 2.0, "hold_s": 0, "ramp_a_per_s": 1000}


def one_pack(tmp_path: Path, battery: dict[str, Any], **top: Any) -> Gateway:
    """A wired gateway (limits come from the bank engine) around one battery, sampled fast;
    ``top``: more top-level config (``mqtt=...``)."""
    config = parse_config(
        {
            "sample_period": 0.1,
            "publish_period": 0.2,
            "state_dir": str(tmp_path),
            "batteries": [battery],
            **top,
        }
    )
    gateway = Gateway(config)
    wire(gateway)
    return gateway


def tesla(tmp_path: Path, **pack: Any) -> Gateway:
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "limits": LIMITS}
    battery["sim"] = {"cells": 108}  # LFP: the default (LFP) limits apply
    return one_pack(tmp_path, {**battery, **pack})


CONTROL = {"allow_control": True, "contactors": {"close_on_start": True, "open_step_s": 0.2}}


async def until(check: Any, timeout: float = 8.0) -> None:
    await wait_until(check, timeout)  # a gateway round trip: a longer default bound


def contactor(gateway: Gateway, name: str = "tesla") -> str | None:
    state = gateway.hub.latest(name)
    if state is None or state.sample is None:
        return None
    return str(state.sample.extra.get("contactor"))


def limits(gateway: Gateway) -> tuple[float, float]:
    state = gateway.hub.latest("tesla")
    got = LimitKeeper(safe_charge_voltage_v=400.0).limits(state, time.time())
    assert got is not None
    return got.charge_current_a, got.discharge_current_a


def contactor_reason(gateway: Gateway) -> object:
    state = gateway.hub.latest("tesla")
    return state.sample.extra.get("contactor_reason") if state and state.sample else None


async def refused_until_set(gateway: Gateway, flag: str, reason: str) -> None:
    """close_on_start with the simulated pack's ``flag`` false: the refusal ``reason`` is
    published and no keep-alive goes out; once ``flag`` is true the pack closes."""
    control = gateway.batteries["tesla"].source
    pack = control.source.simulated_pack
    setattr(pack, flag, False)
    async with running(gateway):
        await until(lambda: contactor_reason(gateway) == f"close refused: {reason}")
        assert control.frames_sent == 0 and pack.keepalive_frames == 0
        setattr(pack, flag, True)
        await until(lambda: contactor(gateway) == "closed")
