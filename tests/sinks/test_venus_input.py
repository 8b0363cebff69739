"""Victron DC data in: fake VE.Bus, solar chargers, a shunt and settings on a private bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.devices.venus_input import MIN_SOC_PATH, VictronInput, victron_source
from batmux.errors import ControlRefused, NoData
from batmux.sinks.venus_config import VictronInputConfig
from sinks.venus_dbus_helpers import FakeVictronService


async def eventually(check: Callable[[], Any], expected: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while check() != expected:
            await asyncio.sleep(0.01)


def dc(current: float | None, connected: int = 1) -> dict[str, Any]:
    return {"/Dc/0/Current": current, "/Dc/0/Voltage": 26.5, "/Connected": connected}


async def test_vebus_plus_solar_chargers(dbus_address: str) -> None:
    vebus = await FakeVictronService("com.victronenergy.vebus.ttyS3", dc(-20.0)).start(dbus_address)
    mppt1 = await FakeVictronService("com.victronenergy.solarcharger.ttyS1", dc(15.0)).start(
        dbus_address
    )
    settings = await FakeVictronService(
        "com.victronenergy.settings", {MIN_SOC_PATH: 20.0}, get_items=False
    ).start(dbus_address)
    async with VictronInput(VictronInputConfig(), dbus_address) as victron:
        assert victron.current_a() == -5.0
        assert victron.min_soc() == 20.0

        # Changes arrive by signal, without polling.
        vebus.set("/Dc/0/Current", -30.5)
        await eventually(victron.current_a, -15.5)
        settings.set(MIN_SOC_PATH, 35)
        await eventually(victron.min_soc, 35.0)

        # A solar charger that appears later is added; one that leaves is dropped.
        mppt2 = await FakeVictronService("com.victronenergy.solarcharger.ttyS2", dc(4.5)).start(
            dbus_address
        )
        await eventually(victron.current_a, -11.0)
        await mppt2.stop()
        await eventually(victron.current_a, -15.5)

        # Readings that fail → None, so the caller falls back to the BMS current.
        mppt1.set("/Dc/0/Current", None)
        await eventually(victron.current_a, None)
        mppt1.set("/Dc/0/Current", 2.0)
        await eventually(victron.current_a, -28.5)
        vebus.set("/Connected", 0)
        await eventually(victron.current_a, None)
        vebus.set("/Connected", 1)
        await eventually(victron.current_a, -28.5)
        await vebus.stop()
        await eventually(victron.current_a, None)
    for svc in (mppt1, settings):
        await svc.stop()


async def test_shunts_with_role_and_invert(dbus_address: str) -> None:
    load = await FakeVictronService(
        "com.victronenergy.battery.ttyS5", dc(3.0), items_changed=False
    ).start(dbus_address)
    alt = await FakeVictronService(
        "com.victronenergy.dcsource.ttyS6", dc(-10.0), get_items=False
    ).start(dbus_address)
    cfg = VictronInputConfig.model_validate(
        {
            "vebus": False,
            "solar_chargers": False,
            "min_soc": False,
            "shunts": [
                {"service": "ttyS5", "role": "dc_load"},
                {"service": "com.victronenergy.dcsource.ttyS6", "role": "battery", "invert": True},
            ],
        }
    )
    async with VictronInput(cfg, dbus_address) as victron:
        assert victron.current_a() == 7.0  # −3 A load, +10 A alternator (inverted)
        assert victron.min_soc() is None
        load.set("/Dc/0/Current", 5.0)  # PropertiesChanged only, as older services do
        await eventually(victron.current_a, 5.0)
    await load.stop()
    await alt.stop()


async def test_required_vebus_missing_is_none(dbus_address: str) -> None:
    mppt = await FakeVictronService("com.victronenergy.solarcharger.ttyS1", dc(15.0)).start(
        dbus_address
    )
    async with VictronInput(VictronInputConfig(), dbus_address) as victron:
        assert victron.current_a() is None
        assert victron.readings() == {"com.victronenergy.solarcharger.ttyS1": 15.0}
    await mppt.stop()


async def test_as_a_configured_device(dbus_address: str) -> None:
    """``type: victron_dbus`` gives the Victron current as a sample, NoData while incomplete."""
    config = parse_config(
        {
            "batteries": [{"name": "victron", "type": "victron_dbus", "address": "dbus"}],
            "victron_input": {"solar_chargers": False, "min_soc": True},
        }
    )
    source = victron_source(config.batteries[0], {"gateway": SimpleNamespace(config=config)})
    source.victron._bus_address = dbus_address  # the test bus instead of the system bus
    with pytest.raises(NoData):
        await source.sample()  # no VE.Bus yet
    vebus = await FakeVictronService("com.victronenergy.vebus.ttyS3", dc(12.0)).start(dbus_address)
    settings = await FakeVictronService("com.victronenergy.settings", {MIN_SOC_PATH: 10}).start(
        dbus_address
    )
    await eventually(source.victron.current_a, 12.0)
    await eventually(source.victron.min_soc, 10.0)
    sample = await source.sample()
    assert sample.current_a == 12.0 and sample.extra["ess_min_soc"] == 10.0
    assert source.health.samples == 1 and source.health.connects == 1
    with pytest.raises(ControlRefused):
        await source.set_switch("charge", False)
    await source.close()
    await vebus.stop()
    await settings.stop()
