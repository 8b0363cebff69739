"""``Gateway.submit_switch``: one spaced queue for every switch writer (MQTT, web, the
charge-switch algorithm); refusals come before anything is queued."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.errors import ControlRefused
from batmux.runtime.app import Gateway
from e2e.test_group_charge_switch_runtime import SwitchableDevice
from mqtt_helpers import running


def gateway(tmp_path: Path) -> tuple[Gateway, SwitchableDevice]:
    cfg = parse_config(
        {
            "state_dir": str(tmp_path),
            "batteries": [
                {"name": "ctl", "type": "jk", "allow_control": True},
                {"name": "ro", "type": "jk"},
            ],
        }
    )
    device = SwitchableDevice(50.0)
    return Gateway(cfg, sources={"ctl": device, "ro": SwitchableDevice(50.0)}), device


def test_refused_without_control_or_an_unknown_switch(tmp_path: Path) -> None:
    gw, _ = gateway(tmp_path)
    for name, switch in (("ro", "charge"), ("nope", "charge"), ("ctl", "heater")):
        with pytest.raises(ControlRefused):
            gw.submit_switch(name, switch, False)
    assert gw.switches.submitted == 0


async def test_writes_are_queued_and_listeners_hear_them(tmp_path: Path) -> None:
    gw, device = gateway(tmp_path)
    heard: list[tuple[str, str, bool]] = []

    async def broken(*_args: object) -> None:
        raise RuntimeError("a sink's bug")

    async def listener(name: str, switch: str, on: bool) -> None:
        heard.append((name, switch, on))

    gw.switch_listeners += [broken, listener]
    async with running(gw):
        gw.submit_switch("ctl", "charge", True)
        gw.submit_switch("ctl", "charge", False)  # replaces the pending wish
        async with asyncio.timeout(5):
            while not heard:
                await asyncio.sleep(0.02)
    assert device.commands == [("charge", False)]
    assert heard == [("ctl", "charge", False)]
    assert (gw.switches.writes, gw.switches.replaced) == (1, 1)
