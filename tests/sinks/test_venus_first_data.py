"""First data fast on Venus: a gateway with the default 5 s publish period puts its battery
service on a private dbus-daemon with the first sample's SoC within 1.5 s of that sample."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sinks.venus import run_venus
from faults.fault_helpers import report
from mqtt_helpers import running
from sinks.venus_dbus_helpers import wait_name

NAME = "com.victronenergy.battery.bank"


async def test_first_sample_on_dbus_within_1_5_s(dbus_address: str, monitor, tmp_path: Path):
    config = parse_config(
        {
            "sample_period": 1.0,
            "publish_period": 5.0,
            "state_dir": str(tmp_path),
            "batteries": [{"name": "bank", "type": "jbd", "sim": {"cells": 16, "soc": 55}}],
            "venus": [{"battery": "bank"}],
        }
    )
    gateway = Gateway(config)
    wire(gateway)
    gateway.sinks = [(n, f) for n, f in gateway.sinks if n != "venus"]  # on our bus instead
    venus = run_venus(config.venus, gateway.hub, dbus_address)
    async with running(gateway):
        task = asyncio.create_task(venus)
        try:
            runtime = gateway.batteries["bank"]
            async with asyncio.timeout(10):
                while not runtime.last_good_at:
                    await asyncio.sleep(0.005)
            first = time.monotonic()
            await wait_name(monitor, NAME, timeout=5)
            await monitor.scan(NAME)
            on_dbus = time.monotonic()
            assert monitor.value(NAME, "/Soc") == 55
        finally:
            task.cancel()
    assert on_dbus - first < 1.5, on_dbus - first
    report("first data on Venus", seconds_first_sample_to_dbus_service=round(on_dbus - first, 2))
