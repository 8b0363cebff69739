"""/DeviceInstance from the settings service (simulated localsettings) on a private dbus-daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from types import SimpleNamespace

import pytest
from dbus_fast import Variant

from batmux.config import parse_config
from batmux.runtime.hub import StateHub
from batmux.sim.venus_settings import SimLocalSettings
from batmux.sinks.venus import VenusService, run_venus, venus_sink
from batmux.sinks.venus_config import VenusConfig
from sinks.venus_dbus_helpers import wait_name
from sinks.venus_states import bank_state

BANK = "com.victronenergy.battery.bank"
PACK = "com.victronenergy.battery.pack_a"
SETTINGS = "com.victronenergy.settings"
SETTINGS_IFACE = "com.victronenergy.Settings"
ZERO = Variant("i", 0)
BANK_SETTING = "/Settings/Devices/batmux_bank/ClassAndVrmInstance"
PACK_SETTING = "/Settings/Devices/batmux_pack_a/ClassAndVrmInstance"


def cfg(battery: str, instance: int = 100, **kw: object) -> VenusConfig:
    return VenusConfig.model_validate({"battery": battery, "device_instance": instance, **kw})


async def _up(conf: VenusConfig, address: str) -> VenusService:
    service = VenusService(conf, address)
    await service.update(bank_state())
    assert service.registered
    return service


async def test_same_proposal_gets_two_instances_and_keeps_them(dbus_address, monitor) -> None:
    settings = await SimLocalSettings().start(dbus_address)
    bank = await _up(cfg("bank"), dbus_address)
    pack = await _up(cfg("pack_a", is_bms=False), dbus_address)
    assert (bank.device_instance, pack.device_instance) == (100, 101)
    assert bank.instance_from_settings and pack.instance_from_settings
    assert settings.value(BANK_SETTING) == "battery:100"
    assert settings.value(PACK_SETTING) == "battery:101"
    assert settings.calls["AddSettings"] == 2 and settings.calls["AddSetting"] == 0
    for name, expected in ((BANK, 100), (PACK, 101)):
        await monitor.scan(name)
        assert monitor.items[name]["/DeviceInstance"].signature == "i"
        assert monitor.value(name, "/DeviceInstance") == expected
        reply = await monitor.call(name, "/DeviceInstance", "GetValue")
        assert reply.body[0].value == expected
    await bank.close()
    await pack.close()

    # batmux restarts (the settings service keeps running): the other order, same instances.
    pack = await _up(cfg("pack_a", is_bms=False), dbus_address)
    bank = await _up(cfg("bank"), dbus_address)
    assert (bank.device_instance, pack.device_instance) == (100, 101)
    await monitor.scan(PACK)
    assert monitor.value(PACK, "/DeviceInstance") == 101
    await bank.close()
    await pack.close()
    await settings.stop()


async def test_instance_held_by_another_driver(dbus_address, monitor) -> None:
    """A serialbattery-style entry already owns battery:100 → the next free one, 101."""
    settings = SimLocalSettings()
    settings.add("/Settings/Devices/serialbattery_JK1/ClassAndVrmInstance", "battery:100", "s")
    settings.add("/Settings/Devices/vegps_ttyUSB0/ClassAndVrmInstance", "gps:101", "s")
    await settings.start(dbus_address)
    bank = await _up(cfg("bank"), dbus_address)
    assert bank.device_instance == 101  # gps:101 is another class: no clash
    await monitor.scan(BANK)
    assert monitor.value(BANK, "/DeviceInstance") == 101
    await bank.close()
    await settings.stop()


async def test_legacy_add_setting(dbus_address) -> None:
    """A localsettings without AddSettings: the AddSetting call on /Settings is used."""
    settings = await SimLocalSettings(legacy=True).start(dbus_address)
    settings.add(BANK_SETTING, "battery:7", "s")  # from an earlier run
    bank = await _up(cfg("bank", 3), dbus_address)
    pack = await _up(cfg("pack_a", 7, is_bms=False), dbus_address)
    assert (bank.device_instance, pack.device_instance) == (7, 8)
    assert settings.value(PACK_SETTING) == "battery:8"
    assert settings.calls["AddSetting"] == 2 and settings.calls["AddSettings"] == 0
    await bank.close()
    await pack.close()
    await settings.stop()


async def test_no_settings_service_uses_config_and_says_so_once(
    dbus_address, monitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batmux.sinks.venus")
    bank = await _up(cfg("bank", 123), dbus_address)
    assert (bank.device_instance, bank.instance_from_settings) == (123, False)
    await monitor.scan(BANK)
    assert monitor.value(BANK, "/DeviceInstance") == 123
    await bank.close()
    await bank.update(bank_state())  # registers again: no second message
    assert bank.registered
    told = [r for r in caplog.records if "is not on the bus" in r.getMessage()]
    assert len(told) == 1 and "device instance 123" in told[0].getMessage()
    await bank.close()


async def test_settings_service_that_refuses(dbus_address, monitor) -> None:
    """A settings service whose entry holds another class: the configured instance, no crash."""
    settings = SimLocalSettings()
    settings.add(BANK_SETTING, "solarcharger:4", "s")
    await settings.start(dbus_address)
    bank = await _up(cfg("bank", 42), dbus_address)
    assert (bank.device_instance, bank.instance_from_settings) == (42, False)
    await bank.close()
    await settings.stop()


async def test_run_venus_with_settings(dbus_address, monitor) -> None:
    """Two ``venus:`` entries through run_venus: the allocated instances reach the bus."""
    settings = SimLocalSettings()
    settings.add("/Settings/Devices/other/ClassAndVrmInstance", "battery:100", "s")
    await settings.start(dbus_address)
    hub = StateHub()
    hub.publish([bank_state(), dataclasses.replace(bank_state(), name="pack_a")])
    confs = [cfg("bank"), cfg("pack_a", 101, is_bms=False)]
    task = asyncio.create_task(run_venus(confs, hub, dbus_address))
    for name in (BANK, PACK):
        await wait_name(monitor, name)
        await monitor.scan(name)
    # The entries are served in order: bank asks for 100 (taken) → 101; pack asks for 101 → 102.
    assert monitor.value(BANK, "/DeviceInstance") == 101
    assert monitor.value(PACK, "/DeviceInstance") == 102
    assert settings.value(PACK_SETTING) == "battery:102"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await settings.stop()


async def test_standalone_sim_beside_the_gateway_sink(
    dbus_address, monitor, monkeypatch, tmp_path
) -> None:
    """``python -m batmux.sim.venus_settings`` on the "system" bus, ``venus_sink`` as ``run``."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", dbus_address)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batmux.sim.venus_settings", stderr=asyncio.subprocess.PIPE
    )
    try:
        await wait_name(monitor, SETTINGS, timeout=10)
        other = "Devices/serialbattery_JK1"  # another driver already holds battery:100
        body = [other, "ClassAndVrmInstance", Variant("s", "battery:100"), "s", ZERO, ZERO]
        await monitor.call(SETTINGS, "/Settings", "AddSetting", "ssvsvv", body, SETTINGS_IFACE)
        batteries = [{"name": "bank", "type": "jk"}]
        raw = {"batteries": batteries, "venus": [{"battery": "bank"}], "state_dir": str(tmp_path)}
        hub = StateHub()
        hub.publish([bank_state()])
        gateway = SimpleNamespace(config=parse_config(raw), hub=hub)
        task = asyncio.create_task(venus_sink(gateway))
        await wait_name(monitor, BANK)
        await monitor.scan(BANK)
        assert monitor.value(BANK, "/DeviceInstance") == 101
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert f"{BANK_SETTING} = 'battery:101'" in err.decode()  # the table it printed on exit
