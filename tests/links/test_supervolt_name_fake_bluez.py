"""The libattU checksum quirk switches itself on from the advertised name (real bleak, fake BlueZ).

The driver and codec are built the way ``runtime/sources.py`` builds them: the registry's codec
instance, no name, so the only source of the name is the link's scan or BlueZ's cache.
"""

from __future__ import annotations

import random

import pytest

from batmux.devices.ble_source import Backoff, BleSource
from batmux.devices.supervolt import NUS_SERVICE, SupervoltDriver
from batmux.errors import CorruptFrame
from batmux.links.bleak_link import BleakLink
from batmux.protocols.supervolt import SupervoltCodec
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.supervolt import SupervoltSimDevice

MAC = "D0:39:72:00:12:E9"


def make_source(address: str) -> tuple[BleSource, SupervoltDriver]:
    driver = SupervoltDriver(BleakLink(address, name="van"), SupervoltCodec())
    backoff = Backoff(base_s=0.05, cap_s=0.2, rng=random.Random(1))
    return BleSource("van", driver, timeout_s=1.0, backoff=backoff), driver


def add(fake: FakeBlueZ, battery: SimBattery, name: str) -> None:
    sim = SupervoltSimDevice(battery, wrong_checksum=True)
    fake.add_device(sim, MAC, name, service_uuid=NUS_SERVICE, manufacturer_data={21320: b""})


@pytest.mark.parametrize("address", [MAC, "libattU12E9"])
async def test_libattu_name_accepts_wrong_checksums(fake_bluez: FakeBlueZ, address: str) -> None:
    battery = SimBattery(cells=4, soc_pct=71.0, current_a=-6.5, clock=lambda: 1000.0)
    add(fake_bluez, battery, "libattU12E9")
    source, driver = make_source(address)
    try:
        sample = await source.sample()
    finally:
        await source.close()
    truth = battery.truth()
    assert driver.link.advertised_name == "libattU12E9"  # type: ignore[attr-defined]
    assert driver.codec.verify_checksum is False
    assert sample.cell_voltages_v == truth.cell_voltages_v
    assert sample.current_a == pytest.approx(-6.5, abs=0.01)
    assert sample.soc_pct == 71
    assert source.health.corrupt_frames == 0


async def test_other_names_keep_the_check(fake_bluez: FakeBlueZ) -> None:
    add(fake_bluez, SimBattery(cells=4), "SV12V100-0042")  # same wrong checksums, other name
    source, driver = make_source(MAC)
    try:
        with pytest.raises(CorruptFrame):  # asked again, every answer fails the check
            await source.sample()
    finally:
        await source.close()
    assert driver.codec.verify_checksum is True
    assert source.health.corrupt_frames >= 1
    assert "checksum" in source.health.last_error
