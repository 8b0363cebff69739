"""Supervolt simulator → SimPeripheral → driver: the real requests, the real frames."""

from __future__ import annotations

import pytest

from batmux.devices.ble_source import BleSource
from batmux.devices.registry import get_type, load
from batmux.devices.supervolt import SupervoltDriver
from batmux.errors import ControlRefused, CorruptFrame
from batmux.model.sample import BatterySample
from batmux.protocols import supervolt
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimPeripheral
from batmux.sim.supervolt import SupervoltSimDevice


def battery(**kw: object) -> SimBattery:
    params = dict(cells=4, capacity_ah=100.0, soc_pct=63.0, current_a=-12.5, clock=lambda: 1000.0)
    params.update(kw)
    return SimBattery(**params)  # type: ignore[arg-type]


def assert_matches_truth(sample: BatterySample, truth: BatterySample) -> None:
    assert sample.cell_voltages_v == truth.cell_voltages_v
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=1e-3)
    assert sample.current_a == pytest.approx(truth.current_a, abs=0.01)
    assert sample.soc_pct == truth.soc_pct
    assert sample.charge_ah == pytest.approx(truth.charge_ah, abs=0.1)
    assert sample.capacity_ah == pytest.approx(truth.capacity_ah, abs=0.1)
    assert sample.cycles == truth.cycles
    assert sample.temperatures_c == (round(truth.temperatures_c[0]),)
    assert sample.charge_enabled is truth.charge_enabled
    assert sample.discharge_enabled is truth.discharge_enabled


async def connected(device: SupervoltSimDevice, **kw: object) -> SupervoltDriver:
    link = SimPeripheral(device, latency_s=0.001, chunk_gap_s=0, **kw)  # type: ignore[arg-type]
    driver = SupervoltDriver(link)
    await link.connect()
    await driver.start()
    return driver


@pytest.mark.parametrize("single_frame", [False, True])
async def test_round_trip_equals_truth(single_frame: bool) -> None:
    bat = battery()
    device = SupervoltSimDevice(bat, single_frame=single_frame, at_chatter=True)
    driver = await connected(device)
    sample = await driver.read_sample(2.0)
    assert_matches_truth(sample, bat.truth())
    assert device.requests == ([2] if single_frame else [2, 0x10])
    link = driver.link
    assert isinstance(link, SimPeripheral)
    assert link.writes[0] == supervolt.REQUEST_REALTIME
    assert driver.codec.corrupt_frames == 0


async def test_charging_and_mosfet_state() -> None:
    bat = battery(current_a=7.25, charge_enabled=False)
    driver = await connected(SupervoltSimDevice(bat))
    sample = await driver.read_sample(2.0)
    assert sample.current_a == 0.0  # an open charge FET stops the charge current
    assert sample.charge_enabled is False and sample.discharge_enabled is True


async def test_registry_entry_builds_a_working_stack() -> None:
    t = get_type("supervolt")
    bat = battery()
    link = SimPeripheral(load(t.sim)(bat), latency_s=0.001, chunk_gap_s=0)
    source = BleSource("sv", load(t.driver)(link, load(t.codec)()), timeout_s=1.0)
    sample = await source.sample()
    assert_matches_truth(sample, bat.truth())
    assert source.health.samples == 1


async def test_corrupted_replies_are_counted_not_decoded() -> None:
    bat = battery()
    source = BleSource(
        "sv",
        SupervoltDriver(
            SimPeripheral(SupervoltSimDevice(bat), latency_s=0.001, chunk_gap_s=0, corrupt_rate=1.0)
        ),
        timeout_s=0.2,
    )
    with pytest.raises(CorruptFrame):  # asked three times, corrupt every time: fails at once
        await source.sample()
    assert source.driver.link.writes == [supervolt.REQUEST_REALTIME] * 3  # type: ignore[attr-defined]
    assert source.health.corrupt_frames >= 3
    assert source.health.timeouts == 0


async def test_no_switches() -> None:
    driver = await connected(SupervoltSimDevice(battery()))
    driver.allow_control = True
    with pytest.raises(ControlRefused):
        await driver.set_switch("charge", False)


async def test_configured_libattu_name_turns_the_check_off_for_a_given_codec() -> None:
    bat = battery()
    device = SupervoltSimDevice(bat, wrong_checksum=True)
    link = SimPeripheral(device, latency_s=0.001, chunk_gap_s=0)
    driver = SupervoltDriver(link, supervolt.SupervoltCodec(), name="libattU_0042")
    await link.connect()
    await driver.start()
    assert_matches_truth(await driver.read_sample(1.0), bat.truth())
    assert driver.codec.corrupt_frames == 0
