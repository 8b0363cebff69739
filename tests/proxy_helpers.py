"""Shared setup for the ESPHome proxy tests: simulated BMSes on the air behind a ``SimProxy``,
and batteries built from a config exactly as the gateway builds them (config → build_source →
BleSource → driver → ProxyLink → aioesphomeapi → TCP → the simulated proxy)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import ble_sim
from batmux.config import Config
from batmux.devices.ble_source import BleSource
from batmux.devices.registry import get_type, load
from batmux.runtime.proxies import close_proxies, proxies_for
from batmux.runtime.sources import build_source
from batmux.sim.battery import SimBattery
from batmux.sim.esphome_proxy import AirDevice, SimProxy

KEY = base64.b64encode(bytes(range(32))).decode()
WRONG_KEY = base64.b64encode(bytes(range(1, 33))).decode()

# type → (MAC, advertised name) for every BLE family the gateway reads by GATT
FAMILIES: dict[str, tuple[str, str]] = {
    "jk": ("C8:47:8C:00:00:01", "JK_B2A8S20P"),
    "jk02_24s": ("C8:47:8C:00:00:02", "JK_B2A24S15P"),
    "jk02_32s": ("C8:47:8C:00:00:03", "JK_BD6A32S"),
    "jk04": ("C8:47:8C:00:00:04", "JK-BD6A20S4P"),
    "jbd": ("A4:C1:38:00:00:01", "xiaoxiang BMS"),
    "daly": ("17:00:00:00:00:01", "DL-170000000001"),
    "daly_modbus": ("17:00:00:00:00:02", "DL-170000000002"),
    "ant": ("AA:00:00:00:00:01", "ANT-BLE16ZMUB"),
    "supervolt": ("AB:00:00:00:00:01", "libatt_0001"),
    "sok": ("AC:00:00:00:00:01", "SOK-24V100"),
}


def sim_battery(soc: float = 62.0, current: float = -7.5, cells: int = 4) -> SimBattery:
    return ble_sim.battery(cells, current, soc)


def air_device(type_name: str, battery: SimBattery, mac: str | None = None) -> AirDevice:
    """The family's own simulator as a peripheral on the air."""
    device_type = get_type(type_name)
    default_mac, name = FAMILIES[type_name]
    sim = load(device_type.sim)(battery)
    spec = load(device_type.driver).spec
    return AirDevice(mac or default_mac, name, sim, service_uuid=spec.service_uuid)


def proxy_config(
    proxies: Iterable[SimProxy], batteries: list[dict[str, Any]], **extra: Any
) -> Config:
    entries = []
    for proxy in proxies:
        entry: dict[str, Any] = {"name": proxy.name, "host": proxy.host, "port": proxy.port}
        if proxy.encryption_key:
            entry["encryption_key"] = proxy.encryption_key
        if proxy.password:
            entry["password"] = proxy.password
        entries.append(entry)
    return Config.model_validate({"bluetooth_proxies": entries, "batteries": batteries, **extra})


def fast(config: Config, retry_s: float = 0.05) -> Config:
    """Short reconnect delays for tests (a real gateway keeps the defaults)."""
    for proxy in proxies_for(config).values():
        proxy.retry_s = (retry_s, 4 * retry_s)
        proxy.auth_retry_s = 0.3
        proxy.connect_timeout_s = 2.0
    return config


def sources(config: Config) -> list[BleSource]:
    out = []
    for cfg in config.batteries:
        source = build_source(cfg, config)
        assert isinstance(source, BleSource)
        source.backoff.base_s, source.backoff.cap_s = 0.05, 0.2
        out.append(source)
    return out


async def close(config: Config, batteries: Iterable[Any] = ()) -> None:
    for source in batteries:
        await source.close()
    await close_proxies(config)  # what a stopping gateway does
