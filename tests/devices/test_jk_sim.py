"""JK driver against the JK simulators of every configured type: the sample equals the
battery truth, the frames follow the type (issue #10 item 8), probes carry the presence mask
real packs send, and an independent decoder's arithmetic reads the same values."""

from __future__ import annotations

import json
import struct

import pytest

from batmux.devices.registry import get_type, load
from batmux.protocols import jk
from batmux.sim.battery import SimBattery
from ble_sim import COMMON, assert_matches, battery, connect
from jk_peer_decoder import aiobmsble_jk02, mppsolar_jk04

RES = {"voltage_v": 0.001, "current_a": 0.001, "charge_ah": 0.001, "temperatures_c": 0.1}


async def _read(type_name: str, bat: SimBattery, firmware: str | None = None):
    entry = get_type(type_name)
    device = load(entry.sim)(bat, **({"firmware": firmware} if firmware else {}))
    driver, link = await connect(load(entry.driver), load(entry.codec), device)
    return device, await driver.read_sample(2.0), link


@pytest.mark.parametrize(
    ("type_name", "firmware", "layout"),
    [
        ("jk02_24s", None, "jk02_24s"),
        ("jk02_24s", "11.48", "jk02_24s"),  # the type wins over the firmware string
        ("jk02_32s", None, "jk02_32s"),
        ("jk02_32s", "10.08", "jk02_32s"),
        ("jk", "10.08", "jk02_24s"),
        ("jk", "19.27", "jk02_32s"),
    ],
)
async def test_jk02_sim_honours_the_type(type_name: str, firmware: str | None, layout: str) -> None:
    """``type: jk02_24s`` + ``address: sim`` used to publish 0 V, SoC 0 and 16,384 Ah."""
    bat = battery(cells=16, current=-12.3, soc=55.0)
    device, sample, _ = await _read(type_name, bat, firmware)
    assert device.layout.name == layout
    truth = bat.truth()
    assert_matches(sample, truth, RES, (*COMMON, "capacity_ah", "mos_temperature_c"))
    assert abs(sample.voltage_v - sum(sample.cell_voltages_v)) < 0.05
    assert sample.capacity_ah == 100.0 and sample.soc_pct == 55


def test_sim_frames_carry_the_mask_real_packs_send() -> None:
    """24S frames: 0x07 (every 24S capture); 32S: 0xFF with the sim's two probes on firmware
    < 14 (fw 11.48 capture), 0xCF on ≥ 14 where T3/T4 are not fitted and read −2000."""
    bat = battery(cells=16)
    frame24 = load(get_type("jk02_24s").sim)(bat).cell_frame()
    assert frame24[182] == 0x07
    frame32 = load(get_type("jk02_32s").sim)(bat).cell_frame()
    assert frame32[214] == 0xFF
    frame19 = load(get_type("jk").sim)(bat, firmware="19.27").cell_frame()
    assert frame19[214] == 0xCF
    assert int.from_bytes(frame19[256:258], "little", signed=True) == jk.ABSENT_PROBE
    decoded = jk.decode_cell_info(frame19, jk.JK02_32S, extra_probes=True)
    assert decoded.temperatures_c == bat.truth().temperatures_c
    assert "-200" not in json.dumps(decoded.to_json())  # not even among the diagnostics


@pytest.mark.parametrize(("type_name", "firmware", "sw"), [("jk02_24s", None, 10),
                         ("jk02_32s", None, 11), ("jk", "19.27", 19)])  # fmt: skip
def test_sim_frames_decode_the_same_in_aiobmsble_arithmetic(
    type_name: str, firmware: str | None, sw: int
) -> None:
    bat = battery(cells=16, current=7.25, soc=42.0)
    device = load(get_type(type_name).sim)(bat, **({"firmware": firmware} if firmware else {}))
    truth = bat.truth()
    peer = aiobmsble_jk02(device.cell_frame(), sw)
    assert peer["voltage"] == pytest.approx(truth.voltage_v, abs=0.001)
    assert peer["current"] == pytest.approx(truth.current_a, abs=0.001)
    assert peer["battery_level"] == 42
    assert peer["design_capacity"] == 100
    assert peer["cell_voltages"] == pytest.approx(list(truth.cell_voltages_v), abs=0.0005)
    probes = [t for t, kind in peer["temp_values"] if kind == "t"]
    assert probes == pytest.approx(list(truth.temperatures_c), abs=0.05)
    assert next(t for t, kind in peer["temp_values"] if kind == "mos") == pytest.approx(
        truth.mos_temperature_c, abs=0.05
    )
    assert peer["chrg_mosfet"] is truth.charge_enabled


async def test_jk04_sim_round_trip_and_mppsolar_arithmetic() -> None:
    bat = battery(cells=16)
    device, sample, link = await _read("jk04", bat)
    truth = bat.truth()
    assert device.is_jk04
    assert sample.cell_voltages_v == pytest.approx(truth.cell_voltages_v, abs=0.0001)
    assert sample.voltage_v == pytest.approx(sum(truth.cell_voltages_v), abs=0.002)
    assert sample.current_a is None and sample.soc_pct is None  # a balancer has no shunt
    assert link.mtu_payload == 20
    peer = mppsolar_jk04(device.cell_frame())
    assert peer["cells"][:16] == pytest.approx(truth.cell_voltages_v, abs=0.0001)
    assert peer["cells"][16:] == [0.0] * 8
    cells = truth.cell_voltages_v
    assert peer["average"] == pytest.approx(sum(cells) / 16, abs=0.0001)
    assert peer["highest_cell"] == cells.index(max(cells)) + 1
    assert peer["lowest_cell"] == cells.index(min(cells)) + 1


async def test_type_jk_detects_jk04_from_the_device_info() -> None:
    bat = battery(cells=16)
    device, sample, _ = await _read("jk", bat, firmware="3.3.0")
    assert device.is_jk04
    assert sample.cell_voltages_v == pytest.approx(bat.truth().cell_voltages_v, abs=0.0001)


@pytest.mark.parametrize(
    ("battery_cfg", "protocol"),
    [
        ({"type": "jk02_24s"}, "jk02_24s"),
        ({"type": "jk02_24s", "sim": {"cells": 16, "firmware": "11.48"}}, "jk02_24s"),
        ({"type": "jk04"}, "jk04"),
        ({"type": "jk", "sim": {"cells": 16, "firmware": "3.3.0"}}, "jk04"),
    ],
)
async def test_configured_sim_publishes_real_numbers(battery_cfg: dict, protocol: str) -> None:
    """The config path of issue #10 item 8: ``address: sim`` builds the simulator of the
    configured type, and the sample has the pack's voltage, not 0 V / 16,384 Ah."""
    from batmux.config import parse_config
    from batmux.runtime.sources import build_source

    config = parse_config({"batteries": [{"name": "pack", **battery_cfg}]})
    source = build_source(config.batteries[0], config)
    driver = source.driver  # type: ignore[attr-defined]
    device = driver.link.device
    assert ("jk04" if device.is_jk04 else device.layout.name) == protocol
    await driver.link.connect()
    await driver.start()
    sample = await driver.read_sample(2.0)
    truth = device.battery.truth()
    assert sample.voltage_v == pytest.approx(sum(truth.cell_voltages_v), abs=0.05)
    assert len(sample.cell_voltages_v) == len(truth.cell_voltages_v)
    if protocol != "jk04":
        assert sample.capacity_ah == truth.capacity_ah and sample.soc_pct == round(truth.soc_pct)


# syssi/esphome-jk-bms tests/components/jk_bms_ble/frames_jk04_b5a24s.h SETTINGS_JK04_B5A24S
_B5A24S_SETTINGS = bytes.fromhex(
    "55aaeb9001720000803f00000000000000000000000000000000000000000000000010000000cdcc4c400000000000000000000000000000000000000000000000000000000000000000c91e42400000000000000000000000000000000000000000000088409a9959406f12033c0000904001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000006f"
)


def _jk04_settings(frame: bytes) -> tuple[int, float, float, float, float, int]:
    def f32(at: int) -> float:
        return round(struct.unpack_from("<f", frame, at)[0], 4)

    return frame[34], f32(38), f32(98), f32(106), f32(110), frame[114]


def test_jk04_sim_settings_use_the_offsets_of_a_real_frame() -> None:
    """Offsets checked on syssi's B5A24S capture (its test: 16 cells, power-off 3.2 V,
    start balance 4.25 V, trigger 8 mV, max balance 4.5 A, balancer on)."""
    assert _jk04_settings(_B5A24S_SETTINGS) == (16, 3.2, 4.25, 0.008, 4.5, 1)
    device = load(get_type("jk04").sim)(battery(cells=16))
    answer = device.handle_write(device.write_uuid, jk.command(jk.REG_CELL_INFO))
    settings = answer[0][: jk.FRAME_LEN]
    assert answer[0][jk.FRAME_LEN :] == jk.READY_MESSAGE
    assert jk.sum8(settings[:299]) == settings[299] and settings[4] == jk.TYPE_SETTINGS
    assert _jk04_settings(settings)[0] == 16
