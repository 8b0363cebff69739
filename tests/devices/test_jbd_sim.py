"""JBD driver against the JBD simulator: sample equals the battery truth; MOSFET writes."""

from __future__ import annotations

import pytest

from batmux.devices.jbd import JbdDriver
from batmux.errors import ControlRefused
from batmux.protocols import jbd
from batmux.protocols.jbd import JbdCodec
from batmux.sim.jbd import JbdSimDevice
from ble_sim import COMMON, assert_matches, battery, connect

RES = {"voltage_v": 0.01, "current_a": 0.01, "charge_ah": 0.01, "temperatures_c": 0.1}


async def test_sample_equals_truth() -> None:
    bat = battery(cells=16, current=-12.3)
    driver, link = await connect(JbdDriver, JbdCodec, JbdSimDevice(bat))
    sample = await driver.read_sample(2.0)
    assert_matches(sample, bat.truth(), RES, (*COMMON, "capacity_ah", "cycles"))
    assert sample.mos_temperature_c is None  # JBD has no MOSFET sensor
    assert link.writes[:2] == [jbd.request(jbd.REG_BASIC), jbd.request(jbd.REG_CELLS)]


async def test_switch_round_trip() -> None:
    bat = battery(cells=4, current=5.0)
    driver, link = await connect(JbdDriver, JbdCodec, JbdSimDevice(bat), allow=True)
    await driver.set_switch("discharge", False)
    assert link.writes[-1] == jbd.switch_request(True, False)
    assert bat.discharge_enabled is False and bat.charge_enabled is True
    sample = await driver.read_sample(2.0)
    assert sample.discharge_enabled is False and sample.charge_enabled is True
    await driver.set_switch("discharge", True)
    assert bat.discharge_enabled is True


async def test_switch_refused_without_allow_control() -> None:
    bat = battery(cells=4)
    driver, link = await connect(JbdDriver, JbdCodec, JbdSimDevice(bat))
    with pytest.raises(ControlRefused):
        await driver.set_switch("charge", False)
    assert link.writes == [] and bat.charge_enabled is True


async def test_sim_ignores_invalid_requests() -> None:
    device = JbdSimDevice(battery(cells=4))
    bad = bytearray(jbd.request(jbd.REG_BASIC))
    bad[-2] ^= 1
    assert device.handle_write(device.write_uuid, bytes(bad)) == []
    assert device.handle_write(device.write_uuid, b"\x00") == []


async def test_a_corrupt_answer_is_asked_for_again_not_waited_out() -> None:
    """With a third of the frames corrupted, nearly every sample still arrives: a corrupt
    answer is asked for again at once, a lost one after a third of the timeout, and three bad
    answers in a row fail the sample at once. No sample sits out the whole 2 s timeout."""
    import time

    from batmux.errors import CorruptFrame
    from batmux.sim.peripheral import SimPeripheral

    bat = battery(cells=8, current=-7.5)
    link = SimPeripheral(JbdSimDevice(bat), latency_s=0.001, chunk_gap_s=0.0, corrupt_rate=0.3,
                         seed=7)  # fmt: skip
    driver = JbdDriver(link, JbdCodec())
    await link.connect()
    await driver.start()
    durations, good = [], 0
    for _ in range(20):
        start = time.monotonic()
        try:
            sample = await driver.read_sample(2.0)
        except CorruptFrame:
            pass
        else:
            assert sample.current_a == pytest.approx(-7.5, abs=0.01)
            good += 1
        durations.append(time.monotonic() - start)
    assert driver.codec.corrupt_frames >= 5  # the fault injection really hit
    assert good >= 17
    assert max(durations) < 1.9
    assert sorted(durations)[10] < 0.5  # the median sample needs no waiting at all
