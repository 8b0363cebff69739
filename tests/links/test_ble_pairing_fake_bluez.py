"""Bonding with a configured PIN: BleSource → BleakLink → our Agent1 → D-Bus → fake BlueZ."""

from __future__ import annotations

import random

import pytest

from batmux.config import Config
from batmux.devices.ble_source import Backoff, BleSource
from batmux.errors import LinkError, NoData
from batmux.links.ble import PairingFailed
from batmux.links.bleak_link import BleakLink
from batmux.protocols import jk
from batmux.runtime.sources import build_source
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.jk import JkSimDevice
from ble_mini_jk import MiniJkDevice, MiniJkDriver

MAC = "C8:47:8C:00:00:5A"


def make_source(pin: str | None) -> tuple[BleSource, BleakLink]:
    link = BleakLink(MAC, name="shunt", pin=pin)
    backoff = Backoff(base_s=0.05, cap_s=0.2, rng=random.Random(1))
    source = BleSource("shunt", MiniJkDriver(link, jk.Jk32sCodec()), timeout_s=2.0, backoff=backoff)
    return source, link


def add(fake: FakeBlueZ, battery: SimBattery, **options: object) -> FakeDevice:
    return fake.add_device(MiniJkDevice(battery), MAC, "SmartShunt HQ", **options)


async def test_right_pin_pairs_once_and_data_flows(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=8, soc_pct=64.0, current_a=-2.5)
    device = add(fake_bluez, battery, pin="123456")
    source, link = make_source("123456")
    try:
        sample = await source.sample()
        await source.close()  # reconnect: BlueZ keeps the bond, no second pairing
        again = await source.sample()
    finally:
        await source.close()
    assert device.paired and device.pair_attempts == 1 and link.pairings == 1
    assert device.connects == 2
    assert sample.soc_pct == round(battery.truth().soc_pct)
    assert sample.current_a == pytest.approx(-2.5, abs=0.002)
    assert again.cell_voltages_v == pytest.approx(battery.truth().cell_voltages_v, abs=0.001)
    assert source.health.errors == 0


async def test_pin_code_question_is_answered_too(fake_bluez: FakeBlueZ) -> None:
    device = add(fake_bluez, SimBattery(cells=4, soc_pct=80.0), pin="1234", pairing="pincode")
    source, _ = make_source("1234")
    try:
        sample = await source.sample()
    finally:
        await source.close()
    assert device.paired and sample.soc_pct == 80


async def test_wrong_pin_is_a_health_error_and_backs_off(fake_bluez: FakeBlueZ) -> None:
    device = add(fake_bluez, SimBattery(cells=8), pin="123456")
    source, link = make_source("654321")
    try:
        refused = r"pairing failed: org.bluez.Error.AuthenticationFailed.*asked: passkey"
        with pytest.raises(PairingFailed, match=refused):
            await source.sample()
        with pytest.raises(NoData, match="backing off"):
            await source.sample()
    finally:
        await source.close()
    assert not device.paired and device.pair_attempts == 1 and link.pairings == 0
    assert not device.connected  # the half-made link was closed
    assert source.health.errors == 1 and source.backoff.failures == 1
    assert source.health.last_error.startswith("PairingFailed: pairing failed")
    assert fake_bluez.pairing.agents == {}  # the agent was unregistered


async def test_already_paired_device_is_not_paired_again(fake_bluez: FakeBlueZ) -> None:
    device = add(fake_bluez, SimBattery(cells=8, soc_pct=42.0), pin="123456", paired=True)
    source, link = make_source("123456")
    try:
        sample = await source.sample()
    finally:
        await source.close()
    assert sample.soc_pct == 42
    assert device.pair_attempts == 0 and link.pairings == 0


async def test_without_pin_no_pairing_is_tried(fake_bluez: FakeBlueZ) -> None:
    device = add(fake_bluez, SimBattery(cells=8), pin="123456")
    source, _ = make_source(None)
    try:
        with pytest.raises(LinkError, match="Insufficient Authentication"):
            await source.sample()
    finally:
        await source.close()
    assert device.pair_attempts == 0 and not device.paired


def jk_config(**battery: object) -> Config:
    entry = {"name": "house", "type": "jk", "address": MAC, "timeout": 2, **battery}
    return Config.model_validate({"batteries": [entry]})


@pytest.mark.parametrize("pair", [True, False])
async def test_config_pin_bonds_unless_ble_pair_is_off(fake_bluez: FakeBlueZ, pair: bool) -> None:
    battery = SimBattery(cells=16, soc_pct=58.0, current_a=3.0)
    sim = JkSimDevice(battery, firmware="11.48", stream_period_s=0.1)
    device = fake_bluez.add_device(sim, MAC, "JK_B2A24S20P", pin="0042")
    config = jk_config(pin="0042", ble={"pair": pair})
    source = build_source(config.batteries[0], config)
    try:
        if pair:
            sample = await source.sample()
            assert sample.soc_pct == 58 and sample.current_a == pytest.approx(3.0, abs=0.002)
        else:
            with pytest.raises(LinkError, match="Insufficient Authentication"):
                await source.sample()
    finally:
        await source.close()
    assert device.paired is pair and device.pair_attempts == int(pair)
