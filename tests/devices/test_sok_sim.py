"""SOK simulator → SimPeripheral → driver: C1/C2/C4 request sequence, F0..F9 replies."""

from __future__ import annotations

import pytest

from batmux.devices.ble_source import BleSource
from batmux.devices.registry import get_type, load
from batmux.devices.sok import SokDriver
from batmux.errors import CorruptFrame
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols import sok
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimPeripheral
from batmux.sim.sok import SokSimDevice


def battery(**kw: object) -> SimBattery:
    params = dict(cells=8, capacity_ah=206.0, soc_pct=44.0, current_a=-23.456, clock=lambda: 50.0)
    params.update(kw)
    return SimBattery(**params)  # type: ignore[arg-type]


def assert_matches_truth(sample: BatterySample, truth: BatterySample) -> None:
    assert sample.cell_voltages_v == pytest.approx(truth.cell_voltages_v, abs=1e-3)
    assert sample.voltage_v == pytest.approx(truth.voltage_v, abs=1e-3)
    assert sample.current_a == pytest.approx(truth.current_a, abs=1e-3)
    assert sample.soc_pct == truth.soc_pct
    assert sample.charge_ah == pytest.approx(truth.charge_ah, abs=1e-3)
    assert sample.capacity_ah == pytest.approx(truth.capacity_ah, abs=1e-3)
    assert sample.cycles == truth.cycles
    assert sample.temperatures_c == tuple(round(t) for t in truth.temperatures_c)
    assert sample.charge_enabled is truth.charge_enabled
    assert sample.discharge_enabled is truth.discharge_enabled
    assert sample.balancing is truth.balancing


def stack(device: SokSimDevice, **kw: object) -> tuple[SimPeripheral, SokDriver]:
    link = SimPeripheral(device, latency_s=0.001, chunk_gap_s=0, **kw)  # type: ignore[arg-type]
    return link, SokDriver(link, sok.SokCodec())


@pytest.mark.parametrize("cells", [8, 13, 16])
async def test_round_trip_equals_truth(cells: int) -> None:
    bat = battery(cells=cells)
    device = SokSimDevice(bat)
    link, driver = stack(device)
    await link.connect()
    await driver.start()
    first = await driver.read_sample(2.0)
    assert_matches_truth(first, bat.truth())
    assert driver.cell_frames == (cells + 3) // 4
    second = await driver.read_sample(2.0)  # now with a known cell-frame count
    assert_matches_truth(second, bat.truth())
    assert device.requests == [0xC1, 0xC2, 0xC4] * 2
    assert link.writes[:3] == [sok.request(c) for c in (0xC1, 0xC2, 0xC4)]
    assert first.extra["protection_bits"] == 0 and not first.alarms


async def test_pack_without_protection_reply_is_not_asked_again() -> None:
    bat = battery()
    device = SokSimDevice(bat, protection_bits=None)
    link, driver = stack(device)
    await link.connect()
    await driver.start()
    assert_matches_truth(await driver.read_sample(2.0), bat.truth())
    await driver.read_sample(2.0)
    assert device.requests == [0xC1, 0xC2, 0xC4, 0xC1, 0xC2]


async def test_protection_flags_raise_an_alarm() -> None:
    link, driver = stack(SokSimDevice(battery(), protection_bits=0x0010))
    await link.connect()
    await driver.start()
    sample = await driver.read_sample(2.0)
    assert sample.extra["protection_bits"] == 0x0010
    assert Alarm.BMS_FAULT in sample.alarms


async def test_registry_and_corrupt_frames_counted() -> None:
    t = get_type("sok")
    bat = battery()
    link = SimPeripheral(load(t.sim)(bat), latency_s=0.001, chunk_gap_s=0, corrupt_rate=1.0)
    source = BleSource("sok", load(t.driver)(link, load(t.codec)()), timeout_s=0.2)
    with pytest.raises(CorruptFrame):  # asked again and again, corrupt every time: fails
        await source.sample()
    assert set(link.writes) == {sok.request(sok.CMD_INFO)} and len(link.writes) >= 3
    assert source.health.corrupt_frames >= 3
    assert "CRC" in source.health.last_error or "CRC" in str(source.driver.codec.last_error)
