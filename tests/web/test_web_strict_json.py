"""The JSON API writes strict JSON: a non-finite value (a decoder's NaN) goes out as null, as
on MQTT, so a browser's JSON.parse does not reject the whole document."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer

from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.runtime.hub import StateHub
from batmux.sinks.observe_config import WebConfig
from batmux.web.server import WebContext, build_app


async def test_a_nan_value_is_null_in_the_api() -> None:
    hub = StateHub()
    sample = BatterySample(timestamp=1.0, voltage_v=math.nan, current_a=math.inf, soc_pct=50.0)
    hub.publish([BatteryState(name="garage", available=True, sample=sample)])
    gateway = SimpleNamespace(hub=hub, link_status={}, clock=lambda: 1.0)
    app = build_app(WebContext(gateway=gateway, config=WebConfig()))
    async with TestClient(TestServer(app)) as client:
        for path in ("/api/batteries", "/api/batteries/garage"):
            response = await client.get(path)
            assert response.status == 200
            text = await response.text()
            doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            battery = doc[0] if isinstance(doc, list) else doc
            assert battery["voltage"] is None
            assert battery["current"] is None
            assert battery["soc"] == 50.0
