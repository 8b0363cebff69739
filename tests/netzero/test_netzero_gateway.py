"""`netzero:` in a running gateway: the simulated battery's published state feeds the guards,
an HTTP meter on loopback feeds the loop, the state goes out on a real broker."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.netzero.ports import MonotonicClock
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.ahoydtu import AhoyDtuSim
from batmux.sim.house import HttpMeterServer
from batmux.sim.hoymiles import HoymilesModel
from mqtt_helpers import recording, running


def netzero_gateway(tmp_path: Path, meter_url: str, **extra: Any) -> Gateway:
    """A wired gateway: one simulated JK pack guarding a fast loop fed by an HTTP meter;
    ``extra``: ``mqtt=`` (top level) and netzero keys such as ``inverters=``."""
    mqtt = extra.pop("mqtt", None)
    meter = {"http": {"url": meter_url, "path": "total_power", "interval": 0.2}}
    config = parse_config(
        {
            **({"mqtt": mqtt} if mqtt else {}),
            "sample_period": 0.2,
            "publish_period": 0.4,
            "state_dir": str(tmp_path),
            "batteries": [{"name": "bank", "type": "jk", "sim": {"cells": 4, "soc": 60}}],
            "netzero": {"battery": "bank", "period": 0.2, "consumption": [meter], **extra},
        },
        "test.yaml",
    )
    gateway = Gateway(config)
    wire(gateway)
    return gateway


async def test_gateway_runs_the_netzero_loop(broker: Any, tmp_path: Path) -> None:
    server = HttpMeterServer(lambda: 345.0)
    url = await server.start()
    gateway = netzero_gateway(tmp_path, f"{url}/status", mqtt={"url": broker.url})
    try:
        async with recording(broker.port) as rec, running(gateway):

            def state() -> dict[str, Any]:
                return json.loads(rec.messages.get("batmux/netzero/state", b"{}"))

            await rec.wait_for(lambda: state().get("grid_w") == 345.0 and not state()["locks"])
            assert state()["mode"] == "discharge"
            assert rec.messages["batmux/netzero/mode/actual"] == b"discharge"
            assert "homeassistant/select/batmux_netzero/mode/config" in rec.messages
            sim = gateway.batteries["bank"].source.driver.link.device.battery  # type: ignore[attr-defined]
            sim._offsets[0] = -0.4  # one cell 0.4 V low: the inverter is locked
            await rec.wait_for(lambda: any(x.startswith("cell_low") for x in state()["locks"]))
    finally:
        await server.stop()


async def test_stopping_the_gateway_switches_the_inverter_off(tmp_path: Path) -> None:
    # Left at its last limit an inverter would drain the battery with nothing watching it.
    model = HoymilesModel(600.0, limit_delay_s=0.2, seed=3)
    dtu = AhoyDtuSim([model], MonotonicClock())
    meter = HttpMeterServer(lambda: 300.0 - model.ac_power_w(time.monotonic()))
    dtu_url, meter_url = await dtu.start(), await meter.start()
    inverter = {"type": "ahoydtu", "url": dtu_url, "id": 0, "max_power": 600}
    gateway = netzero_gateway(tmp_path, f"{meter_url}/status", inverters=[inverter])
    try:
        async with running(gateway):
            async with asyncio.timeout(20):
                while not any(method == "POST" for method, _, _ in dtu.requests):
                    await asyncio.sleep(0.1)  # the loop drives the inverter
            before_stop = len(dtu.requests)
        off = {"id": 0, "cmd": "power", "val": 0}
        sent_on_stop = [json.loads(body) for method, path, body in dtu.requests[before_stop:]
                        if method == "POST" and path == "/api/ctrl"]  # fmt: skip
        assert sent_on_stop == [off]
        assert model.producing is False
    finally:
        await dtu.stop()
        await meter.stop()
