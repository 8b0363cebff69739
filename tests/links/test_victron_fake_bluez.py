"""Victron SmartShunt connected (GATT) mode through the production path: config → BleSource →
BleakLink (bonds with the PIN through our Agent1) → bleak → D-Bus → fake BlueZ → the shunt
simulator, which answers every read through the real ``victron_gatt`` encoders."""

from __future__ import annotations

import pytest

from batmux.config import Config
from batmux.devices.ble_source import BleSource
from batmux.devices.victron_smartshunt import VictronSmartShuntDriver
from batmux.errors import LinkError, NoData
from batmux.links.ble import PairingFailed
from batmux.protocols import victron_gatt as vg
from batmux.runtime.sources import build_source
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.victron_smartshunt import VictronSimDevice

MAC = "E1:23:45:67:89:AB"
PIN = "123456"
SPEC = VictronSmartShuntDriver.spec
VALUE_UUIDS = [g.uuid for g in vg.GATT_VALUES]
KEEP_ALIVE = vg.gatt_uuid(vg.REG_KEEP_ALIVE)


def shunt_battery(current_a: float, soc_pct: float = 71.0) -> SimBattery:
    # a frozen clock: the truth does not move between the reads of one sample
    return SimBattery(
        cells=4, capacity_ah=200.0, soc_pct=soc_pct, current_a=current_a, clock=lambda: 10.0
    )


def add_shunt(fake: FakeBlueZ, battery: SimBattery, **options: object) -> FakeDevice:
    """The shunt as it advertises; the bond (``pin``) is the fake BlueZ's, as on real hardware."""
    return fake.add_device(
        VictronSimDevice(battery),
        MAC,
        "SmartShunt HQ2117",
        service_uuid=SPEC.service_uuid,
        manufacturer_data={0x02E1: b""},
        pin=PIN,
        **options,
    )


def shunt_source(pin: str | None = PIN, **battery: object) -> BleSource:
    entry = {"name": "shunt", "type": "victron_smartshunt", "address": MAC, "timeout": 2, **battery}
    if pin is not None:
        entry["pin"] = pin
    config = Config.model_validate({"batteries": [entry]})
    source = build_source(config.batteries[0], config)
    assert isinstance(source, BleSource)
    source.backoff.base_s = source.backoff.cap_s = 0.05
    return source


@pytest.mark.parametrize("current_a", [-8.765, 12.5])
async def test_pin_bonds_and_values_equal_the_truth(
    fake_bluez: FakeBlueZ, current_a: float
) -> None:
    battery = shunt_battery(current_a)
    device = add_shunt(fake_bluez, battery)
    source = shunt_source()
    try:
        sample = await source.sample()
        await source.close()  # reconnect: BlueZ keeps the bond, no second pairing
        again = await source.sample()
    finally:
        await source.close()
    truth = battery.truth()
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.005)
    assert sample.current_a == pytest.approx(current_a, abs=0.0005)  # + = charging
    assert (sample.current_a > 0) is (current_a > 0)
    assert sample.power_w == pytest.approx(truth.power_w, abs=0.5)
    assert sample.soc_pct == pytest.approx(truth.soc_pct, abs=0.005)
    assert sample.extra["consumed_ah"] == pytest.approx(truth.charge_ah - 200.0, abs=0.05)
    assert sample.extra["consumed_ah"] < 0
    assert again.voltage_v == sample.voltage_v and again.soc_pct == sample.soc_pct
    assert device.paired and device.pair_attempts == 1 and device.connects == 2
    # every value was read from its own characteristic, once per sample
    assert sorted(device.reads) == sorted(VALUE_UUIDS * 2)
    # the keep-alive went to its own characteristic: 20 000 ms, little endian
    assert (KEEP_ALIVE, vg.keep_alive_value(20_000)) in device.write_log
    assert {uuid for uuid, _ in device.write_log} == {KEEP_ALIVE}
    assert source.health.errors == 0 and source.health.samples == 2


async def test_wrong_pin_is_a_clear_error_without_a_crash(fake_bluez: FakeBlueZ) -> None:
    device = add_shunt(fake_bluez, shunt_battery(-3.0))
    source = shunt_source(pin="654321")
    try:
        with pytest.raises(PairingFailed, match=r"AuthenticationFailed.*asked: passkey"):
            await source.sample()
        with pytest.raises(NoData, match="backing off"):
            await source.sample()
    finally:
        await source.close()
    assert not device.paired and device.pair_attempts == 1
    assert not device.connected and device.reads == [] and device.write_log == []
    assert source.health.errors == 1 and source.health.samples == 0
    assert source.health.last_error.startswith("PairingFailed: pairing failed")
    assert fake_bluez.pairing.agents == {}


async def test_without_pin_the_shunt_refuses_access(fake_bluez: FakeBlueZ) -> None:
    device = add_shunt(fake_bluez, shunt_battery(-3.0))
    source = shunt_source(pin=None)
    try:
        with pytest.raises(LinkError, match="Insufficient Authentication"):
            await source.sample()
    finally:
        await source.close()
    assert device.pair_attempts == 0 and device.reads == []
    assert source.health.errors == 1 and source.health.samples == 0


class NoSocShunt(VictronSimDevice):
    """SoC not yet synchronised: the shunt answers the "not available" value (0xFFFF)."""

    def handle_read(self, char_uuid: str) -> bytes:
        if char_uuid == vg.gatt_uuid(vg.REG_SOC):
            return vg.encode_gatt_value(vg.GATT_BY_REGISTER[vg.REG_SOC], None)
        return super().handle_read(char_uuid)


async def test_not_available_value_is_none(fake_bluez: FakeBlueZ) -> None:
    battery = shunt_battery(4.0)
    fake_bluez.add_device(
        NoSocShunt(battery), MAC, "SmartShunt", service_uuid=SPEC.service_uuid, pin=PIN
    )
    source = shunt_source()
    try:
        sample = await source.sample()
    finally:
        await source.close()
    assert sample.soc_pct is None
    assert sample.voltage_v == pytest.approx(battery.truth().voltage_v, abs=0.005)
    assert sample.current_a == pytest.approx(4.0, abs=0.0005)
