"""``type: tesla_model3`` with ``address: sim``: the simulated pack sends its frames on a virtual
CAN bus at their real periods; the real CAN source decodes them through the gateway. Without a
keep-alive the pack stays open (0 A); with 0x221 frames on the bus it closes and current flows."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.protocols import tesla_keepalive
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire

DRIVE = (bytes.fromhex("605555155451F1D8"), bytes.fromhex("61055505000000E3"))  # shared vector


def config(tmp_path: Path, **sim: Any) -> Any:
    return parse_config(
        {
            "sample_period": 0.3,
            "publish_period": 0.5,
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "tesla",
                    "type": "tesla_model3",
                    "address": "sim",
                    "sim": {"soc": 70, "current": -10, **sim},
                },
            ],
        },
        "tesla.yaml",
    )


async def wait_for(gateway: Gateway, ok: Any, seconds: float = 8.0) -> Any:
    state = None
    for _ in range(int(seconds / 0.1)):
        await asyncio.sleep(0.1)
        state = gateway.hub.latest("tesla")
        if state is not None and state.sample is not None and ok(state.sample):
            return state
    raise AssertionError(f"not reached; last state: {state}")


async def keepalive(channel: str) -> None:
    """What the contactor control will send: 0x221 every 50 ms, muxes alternating."""
    async with CanLink(CanBusConfig(interface="virtual", channel=channel)) as link:
        counter = 0
        while True:
            frame = DRIVE[counter % 2]
            await link.send(0x221, tesla_keepalive.with_counter(frame, counter // 2))
            counter += 1
            await asyncio.sleep(0.05)


async def test_simulated_tesla_pack_through_the_gateway(tmp_path: Path) -> None:
    gateway = Gateway(config(tmp_path))
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        state = await wait_for(gateway, lambda s: len(s.cell_voltages_v) == 96)
        s = state.sample
        assert state.available and s.extra["chemistry"] == "NCA/NCM"
        assert s.extra["contactor"] == "open" and s.current_a == 0.0  # no keep-alive yet
        assert state.to_json()["contactor"] == "open"  # in the published state JSON
        assert state.limits is not None and state.limits.discharge_current_a == 0.0
        assert sum(s.cell_voltages_v) == pytest.approx(s.voltage_v, abs=0.1)
        assert s.soc_pct == pytest.approx(70, abs=0.2) and 320 < s.voltage_v < 380
        assert s.extra["hvil_ok"] is True and "a089_vcfront_mia" in s.extra["bms_alerts"]
        assert gateway.batteries["tesla"].health.corrupt_frames == 0
        sender = asyncio.create_task(keepalive("batmux-sim-tesla"))
        try:
            state = await wait_for(gateway, lambda s: s.extra.get("contactor") == "closed")
            assert state.sample.current_a == pytest.approx(-10.0)
            assert state.sample.extra["discharge_current_limit"] > 0  # the pack's own limit
            assert state.sample.discharge_enabled is True
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        state = await wait_for(gateway, lambda s: s.extra.get("contactor") == "open")
        assert state.sample.current_a == 0.0  # keep-alive gone: the pack opened
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_simulated_lfp_pack(tmp_path: Path) -> None:
    gateway = Gateway(config(tmp_path, cells=108))
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        state = await wait_for(gateway, lambda s: len(s.cell_voltages_v) == 108)
        assert state.sample.extra["chemistry"] == "LFP"
        assert 3.2 < state.sample.min_cell_v < 3.4  # type: ignore[operator]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
