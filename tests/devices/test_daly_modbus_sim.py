"""Daly D2 driver against its simulator: status + settings reads, switch register writes."""

from __future__ import annotations

import pytest

from batmux.devices.daly_modbus import DalyModbusDriver
from batmux.errors import ControlRefused
from batmux.protocols import daly_modbus as dm
from batmux.protocols.daly_modbus import DalyModbusCodec
from batmux.sim.daly_modbus import DalyModbusSimDevice
from ble_sim import COMMON, assert_matches, battery, connect

RES = {"voltage_v": 0.1, "current_a": 0.1, "soc_pct": 0.1, "charge_ah": 0.1,
       "temperatures_c": 1.0, "mos_temperature_c": 1.0}  # fmt: skip


async def test_sample_equals_truth() -> None:
    bat = battery(cells=16, current=-12.3)
    driver, link = await connect(DalyModbusDriver, DalyModbusCodec, DalyModbusSimDevice(bat))
    sample = await driver.read_sample(2.0)
    fields = (*COMMON, "capacity_ah", "cycles", "mos_temperature_c")
    assert_matches(sample, bat.truth(), RES, fields)
    assert sample.mos_temperature_c is not None  # from the 9-register read at 0x3E
    status = dm.read_request(0, 0x3E)
    assert link.writes == [dm.read_request(0x80, 0x29), dm.MOS_REQUEST, status]
    await driver.read_sample(2.0)
    assert link.writes[-2:] == [dm.MOS_REQUEST, status]  # settings only once per connection


async def test_module_without_mos_sensor_is_not_asked_again() -> None:
    bat = battery(cells=8)
    sim = DalyModbusSimDevice(bat, mos_sensor=False)
    driver, link = await connect(DalyModbusDriver, DalyModbusCodec, sim)
    assert (await driver.read_sample(2.0)).mos_temperature_c is None
    await driver.read_sample(2.0)
    assert link.writes.count(dm.MOS_REQUEST) == 1


@pytest.mark.parametrize("switch", ["charge", "discharge", "balance"])
async def test_switch_round_trip(switch: str) -> None:
    bat = battery(cells=8)
    driver, link = await connect(
        DalyModbusDriver, DalyModbusCodec, DalyModbusSimDevice(bat), allow=True
    )
    attribute = "balancing" if switch == "balance" else f"{switch}_enabled"
    target = not getattr(bat, attribute)
    await driver.set_switch(switch, target)
    assert link.writes[-1] == dm.switch_request(switch, target)
    assert getattr(bat, attribute) is target
    assert getattr(await driver.read_sample(2.0), attribute) is target


async def test_switch_refused_without_allow_control() -> None:
    bat = battery(cells=4)
    driver, link = await connect(DalyModbusDriver, DalyModbusCodec, DalyModbusSimDevice(bat))
    with pytest.raises(ControlRefused):
        await driver.set_switch("charge", False)
    assert link.writes == [] and bat.charge_enabled is True
