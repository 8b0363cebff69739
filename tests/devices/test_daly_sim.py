"""Daly classic driver against its simulator, including the 0x40-only host-address quirk."""

from __future__ import annotations

import pytest

from batmux.devices.daly import DalyDriver
from batmux.errors import ControlRefused
from batmux.protocols import daly
from batmux.protocols.daly import DalyCodec
from batmux.sim.daly import DalySimDevice
from ble_sim import COMMON, assert_matches, battery, connect

RES = {"voltage_v": 0.1, "current_a": 0.1, "soc_pct": 0.1, "charge_ah": 0.001,
       "temperatures_c": 1.0}  # fmt: skip


@pytest.mark.parametrize("current", [-12.3, 0.0, 7.5])
async def test_sample_equals_truth(current: float) -> None:
    bat = battery(cells=16, current=current)
    driver, _ = await connect(DalyDriver, DalyCodec, DalySimDevice(bat))
    sample = await driver.read_sample(2.0)
    assert_matches(sample, bat.truth(), RES, (*COMMON, "cycles"))
    assert driver.host == daly.HOST_BLE


async def test_module_that_only_answers_host_0x40() -> None:
    bat = battery(cells=4)
    driver, link = await connect(DalyDriver, DalyCodec, DalySimDevice(bat, hosts=(0x40,)))
    sample = await driver.read_sample(2.0)
    assert driver.host == daly.HOST_ALT and len(sample.cell_voltages_v) == 4
    assert link.writes[0][1] == 0x80 and link.writes[1][1] == 0x40


async def test_switch_round_trip() -> None:
    bat = battery(cells=8)
    driver, link = await connect(DalyDriver, DalyCodec, DalySimDevice(bat), allow=True)
    await driver.set_switch("charge", False)
    assert daly.switch_request("charge", False) in link.writes
    assert bat.charge_enabled is False
    assert (await driver.read_sample(2.0)).charge_enabled is False
    await driver.set_switch("charge", True)
    assert bat.charge_enabled is True


async def test_switch_refused_without_allow_control() -> None:
    bat = battery(cells=4)
    driver, link = await connect(DalyDriver, DalyCodec, DalySimDevice(bat))
    with pytest.raises(ControlRefused):
        await driver.set_switch("discharge", False)
    assert link.writes == [] and bat.discharge_enabled is True


async def test_a_garbled_probe_answer_still_settles_the_host_address() -> None:
    """While probing host bytes, a corrupt answer fails this sample but proves the host right:
    the next sample asks that host and decodes."""
    from batmux.errors import CorruptFrame
    from batmux.sim.peripheral import SimPeripheral

    link = SimPeripheral(DalySimDevice(battery(cells=4)), latency_s=0.001, chunk_gap_s=0.0,
                         corrupt_rate=1.0)  # fmt: skip
    driver = DalyDriver(link, DalyCodec())
    await link.connect()
    await driver.start()
    with pytest.raises(CorruptFrame):
        await driver.read_sample(2.0)
    assert driver.host == DalyDriver.hosts[0]
    link.corrupt_rate = 0.0
    sample = await driver.read_sample(2.0)
    assert len(sample.cell_voltages_v) == 4
