"""ANT driver against its simulator: status request, MOSFET / balancer writes."""

from __future__ import annotations

import pytest

from batmux.devices.ant import AntDriver
from batmux.errors import ControlRefused
from batmux.protocols import ant
from batmux.protocols.ant import AntCodec
from batmux.sim.ant import AntSimDevice
from ble_sim import COMMON, assert_matches, battery, connect

RES = {"voltage_v": 0.01, "current_a": 0.1, "charge_ah": 1e-6, "temperatures_c": 1.0,
       "mos_temperature_c": 1.0}  # fmt: skip


@pytest.mark.parametrize("current", [-12.3, 3.3])
async def test_sample_equals_truth(current: float) -> None:
    bat = battery(cells=24, current=current)
    driver, link = await connect(AntDriver, AntCodec, AntSimDevice(bat))
    sample = await driver.read_sample(2.0)
    fields = (*COMMON, "capacity_ah", "mos_temperature_c", "soh_pct")
    assert_matches(sample, bat.truth(), RES, fields)
    assert link.writes == [ant.DEVICE_INFO_REQUEST, ant.STATUS_REQUEST]
    assert (sample.extra["device_model"], sample.extra["software_version"]) == (
        "16ZM",
        "16ZMUB00-211026A",
    )
    await driver.read_sample(2.0)
    assert link.writes[2:] == [ant.STATUS_REQUEST]  # device info once per connection


@pytest.mark.parametrize("switch", ["charge", "discharge", "balance"])
async def test_switch_round_trip(switch: str) -> None:
    bat = battery(cells=8)
    driver, link = await connect(AntDriver, AntCodec, AntSimDevice(bat), allow=True)
    attribute = "balancing" if switch == "balance" else f"{switch}_enabled"
    target = not getattr(bat, attribute)
    await driver.set_switch(switch, target)
    assert link.writes[-1] == ant.switch_request(switch, target)
    assert getattr(bat, attribute) is target
    assert getattr(await driver.read_sample(2.0), attribute) is target


async def test_switch_refused_without_allow_control() -> None:
    bat = battery(cells=4)
    driver, link = await connect(AntDriver, AntCodec, AntSimDevice(bat))
    with pytest.raises(ControlRefused):
        await driver.set_switch("charge", False)
    assert link.writes == [] and bat.charge_enabled is True


def test_sim_device_info_then_status_in_one_stream() -> None:
    """The simulator answers the device-info request as real packs do (tail block); a codec
    fed its reply and the status reply in one 20-byte-notification stream frames both."""
    sim = AntSimDevice(battery(cells=16))
    stream = b"".join(
        sim.handle_write(sim.write_uuid, request)[0]
        for request in (ant.DEVICE_INFO_REQUEST, ant.STATUS_REQUEST)
    )
    codec = AntCodec()
    frames = []
    for i in range(0, len(stream), 20):
        frames += codec.feed(stream[i : i + 20])
    assert [f[2] for f in frames] == [ant.REPLY_DEVICE_INFO, ant.REPLY_STATUS]
    assert codec.corrupt_frames == 0 and len(codec.decode(frames).cell_voltages_v) == 16
