"""The production BLE path (BleSource → BleakLink → bleak → D-Bus) against the fake BlueZ."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from bleak import BleakScanner
from bleak.exc import BleakDBusError

from batmux.devices.ble_source import Backoff, BleSource
from batmux.errors import BatmuxError, DeviceNotFound, LinkError, LinkTimeout
from batmux.links.bleak_link import BleakLink
from batmux.model.sample import BatterySample
from batmux.protocols import jk
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.service import FakeBlueZ
from ble_mini_jk import MiniJkDevice, MiniJkDriver
from ble_sim import sample_until_ok
from bluez_fixtures import assert_matches_truth

MAC_A = "C8:47:8C:00:00:0A"
MAC_B = "C8:47:8C:00:00:0B"


def make_source(
    address: str,
    adapter: str | None = None,
    keep_alive: bool = True,
    timeout: float = 1.0,
    period: float = 0.1,
    **options: object,
) -> BleSource:
    driver = MiniJkDriver(BleakLink(address, adapter=adapter, name=address), jk.Jk32sCodec())
    backoff = Backoff(base_s=0.05, cap_s=0.2, rng=random.Random(1))
    return BleSource(
        address,
        driver,
        keep_alive=keep_alive,
        timeout_s=timeout,
        sample_period_s=period,
        backoff=backoff,
        **options,
    )  # type: ignore[arg-type]


def assert_matches(sample: BatterySample, battery: SimBattery) -> None:
    assert_matches_truth(sample, battery, resolution=0.002)  # JK: 1 mV, 1 mA


async def test_discover_connect_notify_write(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=8, soc_pct=71.0, current_a=-4.5)
    device = fake_bluez.add_device(MiniJkDevice(battery), MAC_A, "JK_B2A8S20P")
    source = make_source(MAC_A)
    try:
        first = await source.sample()
        second = await source.sample()
    finally:
        await source.close()
    assert_matches(first, battery)
    assert second.current_a == pytest.approx(-4.5, abs=0.002)  # + = charging, as the BMS says
    assert device.writes[0] == jk.command(jk.REG_CELL_INFO)
    assert device.notifications == 2 * 15  # 300-byte frames in 20-byte notifications
    assert source.health.connects == 1 and source.health.samples == 2
    assert not device.connected  # close() really disconnected through BlueZ


async def test_address_by_advertised_name(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK-house")
    fake_bluez.add_device(MiniJkDevice(), MAC_B, "JK-garage")
    source = make_source("JK-garage")
    try:
        await source.sample()
    finally:
        await source.close()
    assert source.driver.link.resolved_mac == MAC_B  # type: ignore[attr-defined]
    assert fake_bluez.device(MAC_B).connects == 1 and fake_bluez.device(MAC_A).connects == 0


async def test_adapter_is_chosen_per_battery(bluez_bus: str) -> None:
    async with FakeBlueZ(bluez_bus, adapters=("hci0", "hci1")) as fake:
        fake.add_device(MiniJkDevice(), MAC_A, "JK-on-hci1", adapter="hci1")
        right = make_source(MAC_A, adapter="hci1")
        wrong = make_source(MAC_A, adapter="hci0", timeout=0.4)
        try:
            await right.sample()
            with pytest.raises(DeviceNotFound):
                await wrong.sample()
        finally:
            await right.close()
    assert fake.device(MAC_A, "hci1").connects == 1


async def test_connect_per_sample(fake_bluez: FakeBlueZ) -> None:
    device = fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK")
    source = make_source(MAC_A, keep_alive=False)
    for _ in range(2):
        await source.sample()
        assert not device.connected
    assert device.connects == 2 and source.health.connects == 2


async def test_drop_mid_frame_fails_fast_and_reconnects(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=8, soc_pct=40.0)
    device = fake_bluez.add_device(MiniJkDevice(battery), MAC_A, "JK")
    source = make_source(MAC_A, timeout=3.0)
    try:
        await source.sample()
        device.drop_after_chunks = 6  # link lost in the middle of the next 300-byte frame
        started = time.monotonic()
        with pytest.raises(LinkError):
            await source.sample()
        assert time.monotonic() - started < 1.0  # noticed at once, not at the 3 s read timeout
        assert source.health.drops == 1 and source.health.timeouts == 0
        assert_matches(await sample_until_ok(source), battery)
    finally:
        await source.close()
    assert device.connects == 2 and source.health.connects == 2


async def test_drop_between_samples_is_counted(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK")
    source = make_source(MAC_A)
    try:
        await source.sample()
        await fake_bluez.drop(MAC_A)
        await asyncio.sleep(0.05)
        await source.sample()  # reconnects on its own
    finally:
        await source.close()
    assert source.health.drops == 1 and source.health.connects == 2


async def test_notification_gaps(fake_bluez: FakeBlueZ) -> None:
    device = fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK")
    source = make_source(MAC_A, timeout=1.5)
    try:
        device.chunk_gap_s = 0.02  # 15 chunks spread over ~0.3 s: slow but within the timeout
        await source.sample()
        device.chunk_gap_s = 0.2  # ~3 s per frame: longer than the 1.5 s timeout
        with pytest.raises(LinkTimeout):
            await source.sample()
        assert source.health.timeouts == 1 and device.connected  # a slow reply keeps the link
        device.chunk_gap_s = 0.0
        await sample_until_ok(source)
    finally:
        await source.close()


async def test_device_that_never_answers_is_torn_down(fake_bluez: FakeBlueZ) -> None:
    device = fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK", mute=True)
    source = make_source(MAC_A, timeout=0.2, period=0.1, stuck_after_periods=3)
    try:
        deadline = time.monotonic() + 3.0
        while device.connects < 2 and time.monotonic() < deadline:
            with pytest.raises(BatmuxError):
                await source.sample()
            await asyncio.sleep(0.05)
        assert device.connects >= 2  # stuck link torn down and rebuilt
        assert source.health.timeouts >= 2
        assert "stuck" in source.health.last_error or source.health.drops >= 1
        device.mute = False
        await sample_until_ok(source)
    finally:
        await source.close()


@pytest.mark.parametrize("keep_object", [False, True])
async def test_device_disappears_and_comes_back(fake_bluez: FakeBlueZ, keep_object: bool) -> None:
    battery = SimBattery(cells=8, soc_pct=90.0, current_a=1.5)
    device = fake_bluez.add_device(MiniJkDevice(battery), MAC_A, "JK", connect_timeout_s=0.3)
    source = make_source(MAC_A, timeout=0.5)
    try:
        await source.sample()
        await fake_bluez.vanish(MAC_A, keep_object=keep_object)
        failures = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                await source.sample()
            except BatmuxError:
                failures += 1
            await asyncio.sleep(0.05)
        assert failures >= 3 and source.health.drops == 1
        fake_bluez.reappear(MAC_A)
        assert_matches(await sample_until_ok(source, within_s=5.0), battery)
    finally:
        await source.close()
    assert device.connects == 2


async def test_dead_device_never_stalls_a_healthy_one(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK-good")
    fake_bluez.add_device(MiniJkDevice(), MAC_B, "JK-dead", connect_timeout_s=1.5)
    good = make_source(MAC_A, timeout=1.0, period=0.1)
    dead = make_source(MAC_B, timeout=1.0, period=0.1)
    await good.sample()
    await dead.sample()
    await fake_bluez.vanish(MAC_B, keep_object=True)  # listed but out of range: Connect hangs
    latencies: list[float] = []
    good_errors: list[BatmuxError] = []

    async def run(source: BleSource, seconds: float, record: bool) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                await source.sample()
            except BatmuxError as exc:
                if record:
                    good_errors.append(exc)
            if record:
                latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.1)

    async def drop_good_once() -> None:  # force a reconnect (scan) while the dead one scans too
        await asyncio.sleep(1.0)
        await fake_bluez.drop(MAC_A)

    try:
        await asyncio.gather(run(dead, 3.0, False), run(good, 3.0, True), drop_good_once())
    finally:
        await good.close()
        await dead.close()
    assert len(latencies) >= 10
    assert max(latencies) < 1.0
    assert len(good_errors) <= 2  # the sample that saw the drop (+ one backoff skip)
    assert good.health.connects == 2 and dead.health.samples == 1


async def test_concurrent_connects_share_one_discovery(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK-1")
    fake_bluez.add_device(MiniJkDevice(), MAC_B, "JK-2")
    # bluetoothd allows one discovery session per client: a naive second scanner fails ...
    async with BleakScanner():
        with pytest.raises(BleakDBusError, match="InProgress"):
            async with BleakScanner():
                pass
    # ... so links share one scan per adapter and can all (re)connect at once
    a, b = make_source(MAC_A), make_source(MAC_B)
    try:
        await asyncio.gather(a.sample(), b.sample())
    finally:
        await a.close()
        await b.close()
    assert not fake_bluez.discovering()


async def test_adapter_power_cycle_after_repeated_failures(fake_bluez: FakeBlueZ) -> None:
    fake_bluez.add_device(MiniJkDevice(), MAC_A, "JK")
    source = make_source(MAC_A, timeout=0.3, power_cycle_after=2)
    source.driver.link.power_cycle_off_s = 0.05  # type: ignore[attr-defined]
    try:
        await source.sample()
        await fake_bluez.vanish(MAC_A)
        for _ in range(4):
            with pytest.raises(BatmuxError):
                await source.sample()
            await asyncio.sleep(0.25)
        assert fake_bluez.power_cycles("hci0") == 1 and source.power_cycles == 1
        assert fake_bluez.adapters["hci0"].powered
        fake_bluez.reappear(MAC_A)
        await sample_until_ok(source)
    finally:
        await source.close()
