"""The running gateway sends a group's charge-switch wish to the controllable member only."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.devices.health import Health
from batmux.model.sample import BatterySample
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from core.bank_factory import sample
from mqtt_helpers import running


class SwitchableDevice:
    """A BMS test double at a fixed SoC whose charge switch follows the commands it gets."""

    def __init__(self, soc_pct: float) -> None:
        self.health = Health()
        self.soc_pct = soc_pct
        self.charge_on = True
        self.commands: list[tuple[str, bool]] = []

    async def sample(self) -> BatterySample:
        self.health.samples += 1
        return sample(time.time(), soc_pct=self.soc_pct, charge_enabled=self.charge_on)

    async def close(self) -> None:
        pass

    async def set_switch(self, switch: str, on: bool) -> None:
        self.commands.append((switch, on))
        self.charge_on = on


async def test_group_charge_switch_reaches_the_controllable_member_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = parse_config(
        {
            "sample_period": 0.05,
            "publish_period": 0.2,
            "state_dir": str(tmp_path),
            "batteries": [
                {"name": "ctl", "type": "jk", "allow_control": True},
                {"name": "ro", "type": "jk"},
            ],
            "groups": [
                {"name": "bank", "members": ["ctl", "ro"], "charge_switch": {"stop_soc": 90}}
            ],
        }
    )
    devices = {"ctl": SwitchableDevice(95.0), "ro": SwitchableDevice(93.0)}
    caplog.set_level(logging.INFO)
    gateway = Gateway(cfg, sources=dict(devices))
    wire(gateway)
    async with running(gateway):
        async with asyncio.timeout(5):
            while not devices["ctl"].commands:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a few more publishes: nothing is sent twice
    assert devices["ctl"].commands == [("charge", False)]
    assert devices["ro"].commands == []
    assert "bank: charge switch leaves ro alone (no allow_control)" in caplog.text
    assert "ctl: charge switch False (group bank's charge-switch algorithm)" in caplog.text
