"""`netzero:` in a running gateway: the simulated battery's published state feeds the guards,
an HTTP meter on loopback feeds the loop, the state goes out on a real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.house import HttpMeterServer
from mqtt_helpers import recording, running


async def test_gateway_runs_the_netzero_loop(broker: Any, tmp_path: Path) -> None:
    server = HttpMeterServer(lambda: 345.0)
    url = await server.start()
    config = parse_config(
        {
            "mqtt": {"url": broker.url},
            "sample_period": 0.2,
            "publish_period": 0.4,
            "state_dir": str(tmp_path),
            "batteries": [{"name": "bank", "type": "jk", "sim": {"cells": 4, "soc": 60}}],
            "netzero": {
                "battery": "bank",
                "period": 0.2,
                "consumption": [
                    {"http": {"url": f"{url}/status", "path": "total_power", "interval": 0.2}}
                ],
            },
        },
        "test.yaml",
    )
    gateway = Gateway(config)
    wire(gateway)
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
