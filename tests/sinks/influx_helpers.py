"""A gateway with simulated batteries whose publish rounds the test drives, at known times."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.model.state import BatteryState
from batmux.runtime.app import Gateway

T0 = 1_700_000_000.0  # publish times: T0, T0 + 5, …


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sim_gateway(tmp_path: Path, **sections: Any) -> Gateway:
    config = parse_config(
        {
            "state_dir": str(tmp_path / "state"),
            "history": {"enabled": False},
            "batteries": [
                {"name": "garage", "type": "jk", "sim": {"cells": 4, "current": 12.5, "soc": 61}},
                {"name": "rv", "type": "jbd", "sim": {"cells": 8, "current": -7.0, "soc": 35}},
            ],
            **sections,
        },
        "test.yaml",
    )
    return Gateway(config, clock=Clock())


async def publish_round(gateway: Gateway, t: float) -> list[BatteryState]:
    """Sample every battery once at time ``t`` and publish."""
    gateway.clock.t = t  # type: ignore[attr-defined]
    for runtime in gateway.batteries.values():
        assert await gateway.sample_once(runtime), runtime.cfg.name
    return gateway.publish_now()


async def until(check: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)
