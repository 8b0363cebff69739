"""``batmux demo --proxy``: the demo batteries move behind a simulated ESPHome Bluetooth proxy.

Each demo battery's simulator goes on the air of a ``SimProxy`` (Noise-encrypted with a fresh
key, as a current ESPHome device is) and the battery's config entry turns into a real BLE one
(``address: <MAC>``, ``adapter: proxy:demo-proxy``), so the gateway reads every sample through
aioesphomeapi, TCP and the proxy, exactly as it would read a BMS in the garage.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from batmux.config import BatteryConfig
from batmux.devices.registry import get_type, load
from batmux.runtime.sources import _sim_device, sim_battery
from batmux.sim.esphome_proxy import AirDevice, SimProxy

NAME = "demo-proxy"


async def start_demo_proxy(config: dict[str, Any]) -> SimProxy:
    """Start the proxy and rewrite ``config``'s batteries to be read through it."""
    key = base64.b64encode(os.urandom(32)).decode()
    proxy = SimProxy(NAME, slots=3, encryption_key=key, hop_latency_s=0.005)
    for i, entry in enumerate(config["batteries"]):
        cfg = BatteryConfig.model_validate(entry)
        device = _sim_device(cfg, sim_battery(cfg))
        spec = load(get_type(cfg.type).driver).spec
        mac = f"DE:40:00:00:00:{i + 1:02X}"
        proxy.hear(AirDevice(mac, cfg.name, device, service_uuid=spec.service_uuid), -55 - 8 * i)
        entry.pop("sim", None)
        entry.update(address=mac, adapter=f"proxy:{NAME}")
    await proxy.start()
    config["bluetooth_proxies"] = [
        {"name": NAME, "host": proxy.host, "port": proxy.port, "encryption_key": key}
    ]
    return proxy
