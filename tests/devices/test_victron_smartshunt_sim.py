"""SmartShunt simulator: PIN-bonded GATT reads through the driver, and Instant Readout
advertisements through VictronAdvertisementSource."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import pytest

from batmux.devices.ble_source import BleSource
from batmux.devices.registry import get_type, load
from batmux.devices.victron_advertisement import VictronAdvertisementSource
from batmux.devices.victron_smartshunt import VictronSmartShuntDriver
from batmux.errors import ControlRefused, NoData
from batmux.links.ble import PairingFailed
from batmux.protocols import victron_gatt as vg
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimPeripheral
from batmux.sim.victron_smartshunt import (
    SIM_KEY,
    VictronSimDevice,
    VictronSimPeripheral,
    advertise,
)


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def battery(**kw: object) -> SimBattery:
    params = dict(cells=4, capacity_ah=200.0, soc_pct=71.0, current_a=-8.765, clock=lambda: 10.0)
    params.update(kw)
    return SimBattery(**params)  # type: ignore[arg-type]


def source_for(device: VictronSimDevice, pin: str | None) -> BleSource:
    link = VictronSimPeripheral(device, latency_s=0.001, chunk_gap_s=0)
    return BleSource("shunt", VictronSmartShuntDriver(link, pin=pin), timeout_s=1.0)


async def test_gatt_round_trip_with_pin() -> None:
    bat = battery()
    device = VictronSimDevice(bat, pin="123456")
    source = source_for(device, pin="123456")
    sample = await source.sample()
    truth = bat.truth()
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.01)
    assert sample.current_a == pytest.approx(truth.current_a, abs=1e-3)
    assert sample.power_w == pytest.approx(truth.power_w, abs=1.0)
    assert sample.soc_pct == pytest.approx(truth.soc_pct, abs=0.01)
    assert sample.extra["consumed_ah"] == pytest.approx(
        truth.charge_ah - truth.capacity_ah, abs=0.1
    )
    assert device.keep_alive_ms == 20000
    assert source.health.samples == 1 and source.health.errors == 0


async def test_wrong_pin_is_a_counted_error_never_a_sample() -> None:
    device = VictronSimDevice(battery(), pin="123456")
    source = source_for(device, pin="000000")
    with pytest.raises(PairingFailed, match="wrong PIN"):
        await source.sample()
    assert source.health.errors == 1 and source.health.samples == 0
    assert "PairingFailed" in source.health.last_error


async def test_missing_pin_reads_are_refused() -> None:
    device = VictronSimDevice(battery(), pin="123456")
    source = source_for(device, pin=None)
    with pytest.raises(PairingFailed, match="insufficient authentication"):
        await source.sample()
    assert source.health.errors == 1


async def test_registry_stack_without_pin_on_a_plain_sim_peripheral() -> None:
    t = get_type("victron_smartshunt")
    bat = battery()
    link = SimPeripheral(load(t.sim)(bat), latency_s=0.001, chunk_gap_s=0)
    driver = load(t.driver)(link, load(t.codec)())  # registry codec: advertisement → replaced
    assert isinstance(driver.codec, vg.VictronGattCodec)
    sample = await BleSource("shunt", driver, timeout_s=1.0).sample()
    assert sample.voltage_v == pytest.approx(bat.truth().voltage_v, abs=0.01)


# -- Instant Readout ---------------------------------------------------------------------------


async def test_advertisement_round_trip_and_freshness() -> None:
    bat = battery(current_a=3.21)
    device = VictronSimDevice(bat)
    clock = Clock()
    source = VictronAdvertisementSource("shunt", SIM_KEY.hex(), max_age_s=10.0, clock=clock)
    with pytest.raises(NoData):
        await source.sample()
    assert source.feed_advertisement(device.advertisement(), rssi=-71) is not None
    sample = await source.sample()
    truth = bat.truth()
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.01)
    assert sample.current_a == pytest.approx(truth.current_a, abs=1e-3)
    assert sample.soc_pct == pytest.approx(truth.soc_pct, abs=0.1)
    assert sample.extra["consumed_ah"] == pytest.approx(
        truth.charge_ah - truth.capacity_ah, abs=0.1
    )
    assert source.rssi == -71 and source.health.samples == 1
    clock.now += 11
    with pytest.raises(NoData, match="no Instant Readout"):
        await source.sample()


async def test_wrong_key_is_counted_and_never_a_sample() -> None:
    device = VictronSimDevice(battery())
    wrong = bytes([SIM_KEY[0] ^ 1]) + SIM_KEY[1:]
    source = VictronAdvertisementSource("shunt", wrong, clock=Clock())
    for _ in range(3):
        assert source.feed_advertisement(device.advertisement()) is None
    assert source.health.corrupt_frames == 3 and source.health.errors == 3
    assert "key-check byte" in source.health.last_error
    with pytest.raises(NoData, match="key-check byte"):
        await source.sample()


async def test_bleak_callback_filters_company_and_address() -> None:
    device = VictronSimDevice(battery())
    source = VictronAdvertisementSource(
        "shunt", SIM_KEY, address="aa:bb:cc:dd:ee:ff", clock=Clock()
    )
    payload = device.advertisement()
    other = SimpleNamespace(address="11:22:33:44:55:66")
    mine = SimpleNamespace(address="AA:BB:CC:DD:EE:FF")
    source.on_bleak_advertisement(
        other, SimpleNamespace(manufacturer_data={0x02E1: payload}, rssi=-50)
    )
    source.on_bleak_advertisement(mine, SimpleNamespace(manufacturer_data={0x004C: b"x"}, rssi=-50))
    with pytest.raises(NoData):
        await source.sample()
    source.on_bleak_advertisement(
        mine, SimpleNamespace(manufacturer_data={0x02E1: payload}, rssi=-60)
    )
    assert (await source.sample()).voltage_v is not None
    with pytest.raises(ControlRefused):
        await source.set_switch("charge", True)


def test_bad_key_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        VictronAdvertisementSource("shunt", "abc")


async def test_simulated_broadcast_feeds_the_source() -> None:
    source = VictronAdvertisementSource("shunt", SIM_KEY)
    task = asyncio.create_task(
        advertise(VictronSimDevice(battery()), source.feed_advertisement, period_s=0.01)
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (await source.sample()).voltage_v is not None
    assert source.health.errors == 0
