"""Every BLE family read through a simulated ESPHome Bluetooth proxy over the native API, with
the production link code end to end (config → BleSource → driver → ProxyLink → aioesphomeapi →
TCP on loopback → SimProxy → the family's simulator)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from batmux.config import Config, parse_config
from batmux.devices.registry import DEVICE_TYPES
from batmux.errors import ConfigError
from batmux.links.esphome_link import GattStatusError, ProxyLink
from batmux.links.esphome_proxy import EspHomeProxy
from batmux.runtime.app import Gateway
from batmux.runtime.proxies import proxies_for
from batmux.runtime.sources import build_source
from batmux.runtime.wiring import wire
from batmux.sim.esphome_proxy import AirDevice, SimProxy
from batmux.sim.peripheral import CharSpec
from batmux.sim.victron_smartshunt import SIM_KEY, VictronSimDevice
from batmux.sinks.discovery import Topics, discovery_messages
from ble_sim import sample_until_ok
from mqtt_helpers import running
from proxy_helpers import (
    FAMILIES,
    KEY,
    WRONG_KEY,
    air_device,
    close,
    fast,
    proxy_config,
    sim_battery,
    sources,
)
from sinks.influx_helpers import until


def test_families_cover_every_ble_type() -> None:
    ble = {name for name, t in DEVICE_TYPES.items() if t.transport == "ble"}
    # the SmartShunt's GATT mode needs a bond (not through a proxy): its Instant Readout is
    # tested below
    assert ble - {"victron_smartshunt"} == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_every_family_reads_through_the_proxy(family: str) -> None:
    battery = sim_battery(soc=62.0, current=-7.5)
    async with SimProxy("garage", slots=3) as sim:
        device = sim.hear(air_device(family, battery), rssi=-58)
        config = fast(
            proxy_config(
                [sim],
                [
                    {
                        "name": "pack",
                        "type": family,
                        "address": device.address,
                        "adapter": "proxy:garage",
                        "timeout": 3,
                    }
                ],
            )
        )
        [source] = sources(config)
        try:
            sample = await sample_until_ok(source)
            again = await source.sample()  # the kept connection serves the next sample
        finally:
            await close(config, [source])
    truth = battery.truth()
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.1)
    assert sample.cell_voltages_v == pytest.approx(truth.cell_voltages_v, abs=0.01)
    if family != "jk04":  # a balancer: cells only, no shunt (protocols/jk04.py)
        assert sample.soc_pct == pytest.approx(truth.soc_pct, abs=1)
        assert sample.current_a == pytest.approx(-7.5, abs=0.2)  # + = charging
    assert again.voltage_v == pytest.approx(truth.voltage_v, abs=0.1)
    assert source.health.connects == 1 and device.connects == 1
    assert source.health.to_json()["ble_path"] == "proxy:garage"
    assert not sim.gatt  # close() gave the slot back


async def test_victron_instant_readout_through_the_proxy() -> None:
    shunt = VictronSimDevice(sim_battery(soc=81.0, current=12.5), key=SIM_KEY)
    mac = "E1:23:45:67:89:AB"
    async with SimProxy("garage", advertise_interval_s=0.05) as sim:
        sim.hear(
            AirDevice(
                mac,
                "SmartShunt HQ2117",
                None,
                manufacturer_data=lambda: {0x02E1: shunt.advertisement()},
            ),
            rssi=-71,
        )
        config = fast(
            proxy_config(
                [sim],
                [
                    {
                        "name": "shunt",
                        "type": "victron_smartshunt",
                        "address": mac,
                        "adapter": "proxy:garage",
                        "advertisement_key": SIM_KEY.hex(),
                    }
                ],
            )
        )
        source = build_source(config.batteries[0], config)
        relay = asyncio.create_task(source.background())  # type: ignore[attr-defined]
        try:
            sample = await sample_until_ok(source, 3.0)
        finally:
            relay.cancel()
            await close(config)
    assert sample.current_a == pytest.approx(12.5, abs=0.01)
    assert sample.soc_pct == pytest.approx(81.0, abs=0.1)
    assert source.health.to_json()["ble_rssi"] == -71
    assert not sim.gatt  # passive: never connected


@pytest.mark.parametrize("credential", [{"encryption_key": KEY}, {"password": "secret"}])
async def test_encrypted_and_password_proxies(credential: dict[str, str]) -> None:
    battery = sim_battery(soc=44.0)
    async with SimProxy("shed", **credential) as sim:
        device = sim.hear(air_device("jbd", battery))
        config = fast(
            proxy_config(
                [sim],
                [
                    {
                        "name": "pack",
                        "type": "jbd",
                        "address": device.address,
                        "adapter": "proxy:shed",
                    }
                ],
            )
        )
        [source] = sources(config)
        try:
            sample = await sample_until_ok(source)
        finally:
            await close(config, [source])
    assert sample.soc_pct == pytest.approx(44.0, abs=1)
    assert sim.api_connects == 1 and sim.handshakes_refused == 0


async def test_wrong_key_is_one_clear_line_and_a_slow_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with SimProxy("shed", encryption_key=KEY) as sim:
        sim.hear(air_device("jbd", sim_battery()))
        config_key = WRONG_KEY
        config = Config.model_validate(
            {
                "bluetooth_proxies": [
                    {
                        "name": "shed",
                        "host": sim.host,
                        "port": sim.port,
                        "encryption_key": config_key,
                    }
                ],
                "batteries": [
                    {
                        "name": "pack",
                        "type": "jbd",
                        "address": FAMILIES["jbd"][0],
                        "adapter": "proxy:shed",
                        "timeout": 0.3,
                    }
                ],
            }
        )
        fast(config)
        proxy = proxies_for(config)["shed"]
        proxy.auth_retry_s = 0.5
        [source] = sources(config)
        with caplog.at_level(logging.WARNING, logger="batmux.links.esphome_proxy"):
            for _ in range(3):
                with pytest.raises(Exception, match="offline"):
                    await source.sample()
                await asyncio.sleep(0.25)
        await close(config, [source])
    lines = [r for r in caplog.records if "encryption key" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    assert "retrying every" in lines[0].getMessage()
    assert 2 <= sim.handshakes_refused <= 5  # ~1.6 s: retried every auth_retry_s, no faster
    assert sim.api_connects == 0


def test_config_contract() -> None:
    config = Config.model_validate(
        {
            "bluetooth_proxies": [
                {"name": "garage", "host": "192.168.1.40", "encryption_key": KEY},
                {"name": "attic", "host": "10.0.0.2", "password": "x"},
            ],
            "batteries": [
                {
                    "name": "pack",
                    "type": "jbd",
                    "address": "A4:C1:38:00:00:01",
                    "adapter": "proxy:garage",
                },
                {"name": "other", "type": "jk", "address": "C8:47:8C:00:00:02", "adapter": "auto"},
            ],
        }
    )
    assert config.bluetooth_proxies[0].port == 6053
    link = build_source(config.batteries[0], config).driver.link  # type: ignore[attr-defined]
    assert isinstance(link, ProxyLink) and link.path == "proxy:garage"
    auto = build_source(config.batteries[1], config).driver.link  # type: ignore[attr-defined]
    assert [getattr(p, "path", None) for p in auto.paths] == ["proxy:garage", "proxy:attic", None]
    with pytest.raises(ConfigError, match="use its Instant Readout"):
        parse_config(
            {
                "bluetooth_proxies": [{"name": "p", "host": "h"}],
                "batteries": [
                    {
                        "name": "s",
                        "type": "victron_smartshunt",
                        "pin": "123456",
                        "address": "E1:23:45:67:89:AB",
                        "adapter": "proxy:p",
                    }
                ],
            }
        )
    with pytest.raises(ConfigError, match="no bluetooth_proxies entry named 'nope'"):
        parse_config(
            {
                "batteries": [
                    {
                        "name": "a",
                        "type": "jbd",
                        "address": "A4:C1:38:00:00:01",
                        "adapter": "proxy:nope",
                    }
                ]
            }
        )


async def test_firmware_without_raw_advertisements() -> None:
    async with SimProxy("old", raw_advertisements=False) as sim:
        device = sim.hear(air_device("jbd", sim_battery(soc=33.0)), rssi=-64)
        config = fast(
            proxy_config(
                [sim],
                [
                    {
                        "name": "pack",
                        "type": "jbd",
                        "address": "xiaoxiang BMS",
                        "adapter": "proxy:old",
                    }
                ],
            )
        )
        [source] = sources(config)
        try:
            sample = await sample_until_ok(source)
        finally:
            await close(config, [source])
    assert sample.soc_pct == pytest.approx(33.0, abs=1)
    assert device.connects == 1  # found by its advertised name in the legacy advertisements
    assert source.health.to_json()["ble_rssi"] == -64


def test_path_and_rssi_are_diagnostic_entities() -> None:
    topics = Topics(base="batmux", prefix="homeassistant")
    out = discovery_messages(
        "pack", {"voltage": 13.2}, topics, diagnostics={"ble_path": "proxy:garage", "ble_rssi": -61}
    )
    path = out["homeassistant/sensor/batmux_pack/diag_ble_path/config"]
    rssi = out["homeassistant/sensor/batmux_pack/diag_ble_rssi/config"]
    assert path["entity_category"] == rssi["entity_category"] == "diagnostic"
    assert rssi["unit_of_measurement"] == "dBm" and rssi["device_class"] == "signal_strength"


async def test_a_stopping_gateway_closes_its_proxy_sessions() -> None:
    async with SimProxy("garage", slots=3) as sim:
        device = sim.hear(air_device("jbd", sim_battery()), rssi=-60)
        battery = {"name": "pack", "type": "jbd", "address": device.address,
                   "adapter": "proxy:garage", "timeout": 3}  # fmt: skip
        config = fast(proxy_config([sim], [battery], sample_period=0.1, publish_period=0.2))
        proxy = proxies_for(config)["garage"]
        gateway = Gateway(config)
        wire(gateway)
        async with running(gateway):
            await until(lambda: (s := gateway.hub.latest("pack")) is not None and s.available)
            assert proxy.online
        assert proxy._task is None and not proxy.online  # no API session left behind
        assert proxies_for(config)["garage"] is not proxy  # and the config's cache let go


async def test_a_write_the_characteristic_does_not_take_is_a_gatt_error() -> None:
    device = air_device("jbd", sim_battery())
    assert device.sim is not None
    device.sim.characteristics = (  # type: ignore[misc]
        CharSpec(device.sim.notify_uuid, ("read", "notify")),
        CharSpec(device.sim.write_uuid, ("write-without-response",)),
    )
    async with SimProxy("garage") as sim:
        sim.hear(device)
        proxy = EspHomeProxy("garage", sim.host, sim.port)
        link = ProxyLink(proxy, device.address)
        try:
            await link.connect(timeout=3.0)
            await link.write(device.sim.write_uuid, b"\xdd\xa5\x03\x00\xff\xfd\x77")  # command
            with pytest.raises(GattStatusError) as refused:
                await link.write(device.sim.write_uuid, b"\x00", response=True)
        finally:
            await link.disconnect()
            await proxy.close()
    assert refused.value.status == 0x03  # write not permitted, as BlueZ refuses it too
    assert device.connects == 1
