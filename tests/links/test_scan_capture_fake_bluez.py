"""``scan`` and frame capture through bleak against the fake BlueZ."""

from __future__ import annotations

from pathlib import Path

from batmux.devices.ble_source import BleSource
from batmux.devices.capture import CaptureRing, read_capture, write_capture
from batmux.devices.scan import scan
from batmux.links.ble import uuid16
from batmux.links.bleak_link import BleakLink
from batmux.protocols import jk
from batmux.sim.fake_bluez.service import FakeBlueZ
from ble_mini_jk import MiniJkDevice, MiniJkDriver


async def test_scan_recognises_devices(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(
        MiniJkDevice(),
        "C8:47:8C:00:00:0A",
        "JK_B2A8S20P",
        rssi=-55,
        manufacturer_data={0x0B65: b"\x01\x02"},
    )
    fake_bluez.add_device(
        MiniJkDevice(),
        "AA:BB:CC:DD:EE:FF",
        "Galaxy Buds",
        rssi=-40,
        service_uuids=(uuid16(0x180F),),
        manufacturer_data={0x0075: b""},
    )
    results = await scan(timeout=0.4)
    by_mac = {r.mac: r for r in results}
    jk_result = by_mac["C8:47:8C:00:00:0A"]
    assert jk_result.guessed_type == "jk" and jk_result.name == "JK_B2A8S20P"
    assert -60 <= jk_result.rssi <= -50
    assert by_mac["AA:BB:CC:DD:EE:FF"].guessed_type is None
    assert results[0].mac == "C8:47:8C:00:00:0A"  # recognised devices first
    assert not fake_bluez.discovering()


async def test_capture_of_a_real_session(fake_bluez: FakeBlueZ, tmp_path: Path) -> None:
    fake_bluez.add_device(MiniJkDevice(), "C8:47:8C:00:00:0A", "JK")
    driver = MiniJkDriver(BleakLink("C8:47:8C:00:00:0A"), jk.Jk32sCodec())
    ring = CaptureRing()
    ring.attach(driver)
    source = BleSource("jk", driver, timeout_s=1.0)
    try:
        sample = await source.sample()
    finally:
        await source.close()
    entries = read_capture(write_capture(tmp_path, "jk", ring, protocol="jk02_32s"))
    assert entries[0].direction == "tx" and entries[0].data == jk.command(jk.REG_CELL_INFO)
    assert [len(e.data) for e in entries[1:]] == [20] * 15
    codec = jk.Jk32sCodec()
    frames = [f for e in entries if e.direction == "rx" for f in codec.feed(e.data)]
    assert codec.decode(frames, sample.timestamp) == sample
