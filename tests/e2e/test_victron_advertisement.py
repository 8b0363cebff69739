"""A SmartShunt read from its encrypted Instant Readout advertisements, through the gateway:
the right key publishes the simulated shunt's values; a wrong key is counted, never a sample."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.devices.victron_advertisement import VictronAdvertisementSource
from batmux.runtime.app import Gateway
from batmux.runtime.sources import sim_battery
from batmux.runtime.wiring import wire
from batmux.sim.victron_smartshunt import VictronSimDevice, advertise
from mqtt_helpers import recording, running

KEY = "0df4d0395b7d1a876c0c33ecb9e70dcd"
OTHER_KEY = "f1e2d3c4b5a697887766554433221100"


def shunt_config(tmp_path: Path, mqtt_url: str | None = None) -> Any:
    data: dict[str, Any] = {
        "sample_period": 0.1,
        "publish_period": 0.3,
        "expire_after": 5.0,
        "state_dir": str(tmp_path),
        "batteries": [
            {
                "name": "shunt",
                "type": "victron_smartshunt",
                "address": "sim",
                "advertisement_key": KEY,
                "sim": {"capacity_ah": 200, "soc": 77, "current": -12.5},
            }
        ],
    }
    if mqtt_url:
        data["mqtt"] = {"url": mqtt_url}
    return parse_config(data, "test.yaml")


async def test_advertisements_with_the_right_key_are_published(broker: Any, tmp_path: Path):
    config = shunt_config(tmp_path, broker.url)
    gateway = Gateway(config)
    wire(gateway)
    source = gateway.batteries["shunt"].source
    assert isinstance(source, VictronAdvertisementSource)  # no GATT connection at all
    expected = sim_battery(config.batteries[0]).truth()
    async with recording(broker.port) as rec, running(gateway):
        await rec.wait_for(
            lambda: {"batmux/shunt/state", "batmux/shunt/availability"} <= set(rec.messages),
            timeout=5,
        )
        state = rec.json("batmux/shunt/state")
    assert state["available"] is True
    assert state["current"] == pytest.approx(-12.5)
    assert state["soc"] == pytest.approx(77, abs=0.1)
    assert state["voltage"] == pytest.approx(expected.voltage_v, abs=0.02)
    assert state["power"] == pytest.approx(state["voltage"] * -12.5, rel=0.01)
    assert state["consumed_ah"] == pytest.approx(200 * 0.77 - 200, abs=0.2)
    assert "cell_voltages" not in state  # a shunt has no cells
    assert source.health.samples > 0 and source.health.corrupt_frames == 0
    assert rec.messages["batmux/shunt/availability"] == b"online"


async def test_a_wrong_key_is_counted_and_never_gives_a_sample(tmp_path: Path) -> None:
    config = shunt_config(tmp_path)
    # The shunt broadcasts with its own key; the user configured another one.
    source = VictronAdvertisementSource("shunt", OTHER_KEY)
    device = VictronSimDevice(sim_battery(config.batteries[0]), key=bytes.fromhex(KEY))
    source.background = lambda: advertise(device, source.feed_advertisement, period_s=0.1)  # type: ignore[attr-defined]
    gateway = Gateway(config, sources={"shunt": source})
    async with running(gateway):
        await asyncio.sleep(1.0)
        state = gateway.publish_now_map()["shunt"]
    assert source.health.corrupt_frames >= 5
    assert source.health.errors == source.health.corrupt_frames
    assert "key" in source.health.last_error.lower()
    assert source.health.samples == 0
    assert gateway.batteries["shunt"].failed_rounds >= 5
    assert state.sample is None and state.available is False
