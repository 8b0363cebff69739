"""``type: pylontech_can`` with ``address: sim``: a simulated Pylontech battery sends its real
frames on a virtual CAN bus and the real CAN source decodes them through the gateway."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire


async def test_simulated_pylontech_battery_through_the_gateway(tmp_path: Path) -> None:
    config = parse_config(
        {
            "sample_period": 0.3,
            "publish_period": 0.5,
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "pyl",
                    "type": "pylontech_can",
                    "address": "sim",
                    "sim": {"cells": 15, "capacity_ah": 100, "soc": 70, "current": -10},
                },
            ],
        },
        "can.yaml",
    )
    gateway = Gateway(config)
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        for _ in range(60):
            await asyncio.sleep(0.1)
            state = gateway.hub.latest("pyl")
            if state is not None and state.sample is not None:
                break
        assert state is not None and state.sample is not None and state.available
        s = state.sample
        assert s.current_a == pytest.approx(-10.0)
        assert s.soc_pct == 70
        assert 15 * 3.2 < (s.voltage_v or 0) < 15 * 3.4
        assert s.extra["charge_voltage_limit"] == pytest.approx(
            15 * 3.55, abs=0.1
        )  # 0.1 V on the wire
        assert s.extra["discharge_voltage_limit"] == pytest.approx(15 * 2.9, abs=0.1)
        assert s.extra["manufacturer"] == "PYLON"
        assert gateway.batteries["pyl"].health.corrupt_frames == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_real_bus_is_never_simulated() -> None:
    config = parse_config(
        {
            "batteries": [
                {
                    "name": "pyl",
                    "type": "pylontech_can",
                    "can": {"interface": "virtual", "channel": "x"},
                }
            ]
        }
    )
    from batmux.devices.can_source import _is_simulated

    assert not _is_simulated(config.batteries[0])
