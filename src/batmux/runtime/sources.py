"""Build a ``Source`` for each configured battery from the registry."""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from batmux.config import BatteryConfig, Config
from batmux.devices.ble_options import BleOptions
from batmux.devices.ble_source import BleSource
from batmux.devices.capture import CaptureRing
from batmux.devices.registry import get_type, load
from batmux.devices.serial_bms import wired_driver_kwargs, wired_link
from batmux.devices.source import Source
from batmux.links.serial_bms import is_serial_address
from batmux.runtime.proxies import proxy_link, relay_advertisements, uses_proxy

if TYPE_CHECKING:
    from batmux.sim.battery import SimBattery


def sim_battery(cfg: BatteryConfig) -> SimBattery:
    from batmux.sim.battery import from_sim_config  # simulators load only for ``address: sim``

    return from_sim_config(cfg.sim)


def _sim_device(cfg: BatteryConfig, battery: SimBattery) -> Any:
    device_cls = load(get_type(cfg.type).sim)
    kwargs: dict[str, Any] = {}
    if (
        cfg.sim is not None
        and cfg.sim.firmware
        and "firmware" in inspect.signature(device_cls).parameters
    ):
        kwargs["firmware"] = cfg.sim.firmware
    return device_cls(battery, **kwargs)


def build_source(
    cfg: BatteryConfig, config: Config, context: dict[str, Any] | None = None
) -> Source:
    device_type = get_type(cfg.type)
    if cfg.type == "victron_smartshunt" and cfg.advertisement_key:
        return _victron_advertisement_source(cfg, config)
    if device_type.transport == "ble":
        codec = load(device_type.codec)()
        ble = cfg.ble or BleOptions()
        wired = is_serial_address(cfg.address)  # jbd/daly on a USB-TTL / RS485 adapter
        if cfg.is_sim:
            from batmux.sim.peripheral import SimPeripheral

            sim = cfg.sim
            link: Any = SimPeripheral(
                _sim_device(cfg, sim_battery(cfg)),
                address=f"sim:{cfg.name}",
                stop_after_s=sim.stop_after if sim else None,
                corrupt_rate=sim.corrupt_rate if sim else 0.0,
                seed=sim.seed if sim else 0,
            )
        elif wired:
            link = wired_link(cfg.type, cfg.address, cfg.serial)
        elif uses_proxy(cfg):  # ESPHome Bluetooth proxies (docs/esphome-proxies.md)
            local = None
            if cfg.adapter == "auto":
                from batmux.links.bleak_link import BleakLink

                local = BleakLink(
                    cfg.address,
                    None,
                    cfg.name,
                    pin=cfg.pin,
                    pairing=ble.pair,
                    acquire=ble.acquire,
                )
            link = proxy_link(cfg, config, local)
        else:
            from batmux.links.bleak_link import BleakLink  # imports bleak only when needed

            link = BleakLink(
                cfg.address,
                cfg.adapter,
                cfg.name,
                pin=cfg.pin,
                pairing=ble.pair,
                acquire=ble.acquire,
            )
        driver_cls = load(device_type.driver)
        driver_kwargs: dict[str, Any] = {"allow_control": cfg.allow_control}
        if cfg.pin is not None and "pin" in inspect.signature(driver_cls).parameters:
            driver_kwargs["pin"] = cfg.pin
        if wired:
            driver_kwargs |= wired_driver_kwargs(cfg.type)
        driver = driver_cls(link, codec, **driver_kwargs)
        source = BleSource(
            cfg.name,
            driver,
            keep_alive=cfg.keep_alive,
            timeout_s=cfg.timeout,
            sample_period_s=config.sample_period,
            **ble.source_kwargs(),
        )
        # Every BLE device keeps its last frames for bug reports (``batmux run --capture``).
        source.capture = CaptureRing()
        source.capture.attach(driver)
        return source
    if device_type.source is None:
        raise ValueError(f"type {cfg.type!r} has no source")
    factory = load(device_type.source)
    return factory(cfg, context or {})


def _victron_advertisement_source(cfg: BatteryConfig, config: Config) -> Source:
    """A SmartShunt read from its encrypted Instant Readout advertisements, never connected.

    The source gets a ``background`` coroutine the gateway runs: the simulator's broadcaster
    for ``address: sim``, otherwise a passive BLE scan that feeds every advertisement to it.
    """
    from batmux.devices.victron_advertisement import VictronAdvertisementSource

    assert cfg.advertisement_key is not None
    address = None if cfg.is_sim else cfg.address
    source = VictronAdvertisementSource(cfg.name, cfg.advertisement_key, address=address)
    if uses_proxy(cfg):
        source.background = lambda: relay_advertisements(source, cfg, config)  # type: ignore[attr-defined]
    elif cfg.is_sim:
        from batmux.sim.victron_smartshunt import VictronSimDevice, advertise

        device = VictronSimDevice(sim_battery(cfg), key=bytes.fromhex(cfg.advertisement_key))
        source.background = lambda: advertise(device, source.feed_advertisement)  # type: ignore[attr-defined]
    else:
        source.background = lambda: _scan_forever(source, cfg.adapter)  # type: ignore[attr-defined]
    return source


async def _scan_forever(source: Any, adapter: str | None) -> None:
    from bleak import BleakScanner  # imported only when a real shunt is configured

    from batmux.links.bluez_status import BUS_ERRORS, translate

    kwargs = {"adapter": adapter} if adapter else {}
    try:
        async with BleakScanner(detection_callback=source.on_bleak_advertisement, **kwargs):
            await asyncio.Event().wait()
    except BUS_ERRORS as exc:  # the supervisor retries; its log line says what is missing
        raise translate(exc, "advertisement scan failed", adapter) from exc
