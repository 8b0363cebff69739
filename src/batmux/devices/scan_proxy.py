"""``batmux scan --proxy NAME``: what one ESPHome Bluetooth proxy hears, with the guessed type."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from batmux.devices.scan import ScanResult, guess_type, registered_hints

if TYPE_CHECKING:
    from batmux.links.esphome_proxy import EspHomeProxy


async def scan_proxy(proxy: EspHomeProxy, timeout: float = 10.0) -> list[ScanResult]:
    """Listen through ``proxy`` for ``timeout`` seconds; strongest recognised devices first.
    Raises ``ProxyOffline`` if the proxy cannot be reached (or refuses our credentials)."""
    started = asyncio.get_running_loop().time()
    try:
        await proxy.wait_online(max(timeout, proxy.connect_timeout_s))
        left = timeout - (asyncio.get_running_loop().time() - started)
        await asyncio.sleep(max(left, 1.0))
    finally:
        heard = list(proxy.heard.values())
        await proxy.close()
    hints = registered_hints()
    results = [
        ScanResult(
            mac=h.mac,
            name=h.name or "",
            rssi=h.rssi,
            guessed_type=guess_type(h.name, h.service_uuids, h.manufacturer_data, hints),
            service_uuids=h.service_uuids,
            manufacturer_ids=tuple(h.manufacturer_data),
        )
        for h in heard
    ]
    return sorted(results, key=lambda r: (r.guessed_type is None, -r.rssi, r.mac))
