"""The configured ESPHome Bluetooth proxies and the link each BLE battery's ``adapter:`` asks for.

``adapter:`` unset or ``hciN``: the local adapter (bleak/BlueZ); ``proxy:<name>``: that proxy;
``auto``: the local adapter and every configured proxy, chosen per connect (``AutoLink``).
aioesphomeapi is imported only when a battery uses a proxy. One ``EspHomeProxy`` per configured
proxy is shared by all batteries of a gateway (it starts with the first link that needs it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batmux.config import BatteryConfig, Config
    from batmux.links.esphome_proxy import EspHomeProxy

_PROXIES: dict[int, tuple[Config, dict[str, EspHomeProxy]]] = {}


def uses_proxy(cfg: BatteryConfig) -> bool:
    adapter = cfg.adapter or ""
    return adapter == "auto" or adapter.startswith("proxy:")


def proxies_for(config: Config) -> dict[str, EspHomeProxy]:
    """The proxies of ``config``, built once per config object."""
    from batmux.links.esphome_proxy import EspHomeProxy

    entry = _PROXIES.get(id(config))
    if entry is None or entry[0] is not config:
        proxies = {
            p.name: EspHomeProxy(p.name, p.host, p.port, p.encryption_key, p.password)
            for p in config.bluetooth_proxies
        }
        entry = _PROXIES[id(config)] = (config, proxies)
    return entry[1]


async def close_proxies(config: Config) -> None:
    """Close the proxies ``config``'s gateway started (at its end) and forget them."""
    entry = _PROXIES.pop(id(config), None)
    if entry is not None and entry[0] is config:
        await asyncio.gather(*(p.close() for p in entry[1].values()), return_exceptions=True)


def _chosen(cfg: BatteryConfig, config: Config) -> list[EspHomeProxy]:
    proxies = proxies_for(config)
    adapter = cfg.adapter or ""
    return list(proxies.values()) if adapter == "auto" else [proxies[adapter[6:]]]


def proxy_link(cfg: BatteryConfig, config: Config, local: Any | None) -> Any:
    """The link for a battery with ``adapter: proxy:<name>`` or ``auto`` (``local``: its
    BlueZ link, joined in for ``auto``)."""
    from batmux.links.esphome_link import ProxyLink

    links: list[Any] = [ProxyLink(p, cfg.address, cfg.name) for p in _chosen(cfg, config)]
    if cfg.adapter != "auto":
        return links[0]
    from batmux.links.ble_paths import AutoLink

    return AutoLink(cfg.address, [*links, *([local] if local is not None else [])])


async def relay_advertisements(source: Any, cfg: BatteryConfig, config: Config) -> None:
    """Feed every advertisement the battery's proxies hear to a push source (Victron Instant
    Readout) until cancelled; the proxies reconnect by themselves meanwhile."""
    from batmux.links.esphome_proxy import Heard
    from batmux.protocols.victron_smartshunt import COMPANY_ID

    address = cfg.address.upper()
    listeners: list[tuple[EspHomeProxy, Any]] = []
    for proxy in _chosen(cfg, config):

        def listener(heard: Heard, name: str = proxy.name) -> None:
            payload = heard.manufacturer_data.get(COMPANY_ID)
            if heard.mac == address and payload is not None:
                source.feed_advertisement(payload, heard.rssi)
                source.health.ble_path, source.health.ble_rssi = f"proxy:{name}", heard.rssi

        proxy.listeners.add(listener)
        listeners.append((proxy, listener))
        proxy.start()
    try:
        await asyncio.Event().wait()
    finally:
        for proxy, listener in listeners:
            proxy.listeners.discard(listener)
