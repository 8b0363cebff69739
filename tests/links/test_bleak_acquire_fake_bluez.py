"""BleakLink's acquired-socket path (links/bluez_sockets.py) against the fake BlueZ: the same
values as through D-Bus, the fallback when BlueZ refuses, link loss while acquired, and no
descriptor left behind."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from typing import Any

import pytest
from dbus_fast import BusType, MessageType
from dbus_fast.aio import MessageBus

from batmux.config import Config
from batmux.devices.ble_source import BleSource
from batmux.errors import LinkError
from batmux.links.ble import uuid16
from batmux.links.bleak_link import BleakLink
from batmux.model.sample import BatterySample
from batmux.runtime.sources import build_source
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.device import FakeDevice
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.jk import JkSimDevice
from batmux.sim.peripheral import CharSpec
from bluez_fixtures import assert_matches_truth, call_char, seconds_until, sockets_out

MAC = "A4:C1:37:00:00:51"
JBD_SERVICE, JBD_NOTIFY, JBD_WRITE = (uuid16(n) for n in (0xFF00, 0xFF01, 0xFF02))


def config(kind: str, **ble: Any) -> Config:
    battery = {"name": "pack", "type": kind, "address": MAC, "timeout": 2}
    battery["ble"] = {"stuck_after": 5, "power_cycle_after": 0, **ble}
    return Config.model_validate({"batteries": [battery]})


def link_of(source: BleSource) -> BleakLink:
    link = source.driver.link
    assert isinstance(link, BleakLink)
    return link


def acquired(fake: FakeBlueZ) -> dict[str, tuple[bool, bool]]:
    return sockets_out(fake, MAC)


def assert_jbd(sample: BatterySample, battery: SimBattery) -> None:
    assert_matches_truth(sample, battery, resolution=0.011)  # JBD: 10 mV, 10 mA


def add_jbd(fake: FakeBlueZ, battery: SimBattery, **options: Any) -> FakeDevice:
    return fake.add_device(
        JbdSimDevice(battery), MAC, "SP04S-A", service_uuid=JBD_SERVICE, **options
    )


@pytest.mark.parametrize("acquire", [True, False])
async def test_jbd_values_through_sockets_and_dbus(fake_bluez: FakeBlueZ, acquire: bool) -> None:
    battery = SimBattery(cells=16, soc_pct=67.0, current_a=-8.25)
    device = add_jbd(fake_bluez, battery)
    cfg = config("jbd", acquire=acquire)
    source = build_source(cfg.batteries[0], cfg)
    try:
        first = await source.sample()
        second = await source.sample()
        during = acquired(fake_bluez)
        notify = fake_bluez._live[device.path].chars[JBD_NOTIFY]
        dbus_notifying = notify.notifying
    finally:
        await source.close()
    assert_jbd(first, battery)
    assert_jbd(second, battery)
    assert during == {JBD_NOTIFY: (acquire, False), JBD_WRITE: (False, acquire)}
    assert dbus_notifying is not acquire  # StartNotify only on the D-Bus path
    assert fake_bluez.acquisitions == (2 if acquire else 0)
    # the same requests on the wire both ways: basic info and cells, twice
    assert [w[:4] for w in device.writes] == [
        bytes.fromhex("dda50300"),
        bytes.fromhex("dda50400"),
    ] * 2
    assert acquired(fake_bluez) == {}  # disconnected: sockets closed, objects gone


async def test_jk_stream_through_the_notify_socket(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=16, soc_pct=58.0, current_a=21.5)
    device = JkSimDevice(battery, firmware="11.48", stream_period_s=0.1)
    fake_bluez.add_device(device, MAC, "JK_B2A24S20P", manufacturer_data={0x0B65: b""})
    cfg = config("jk")
    source = build_source(cfg.batteries[0], cfg)
    try:
        samples = [await source.sample() for _ in range(3)]
        during = acquired(fake_bluez)
    finally:
        await source.close()
    assert list(during.values()) == [(True, True)]  # one characteristic: notify + write
    for sample in samples:
        assert sample.soc_pct == 58 and sample.current_a == pytest.approx(21.5, abs=0.002)
        assert sample.voltage_v == pytest.approx(battery.truth().voltage_v, abs=0.01)
        assert len(sample.cell_voltages_v) == 16
    assert fake_bluez.device(MAC).notifications > 3 * 15  # 300-byte frames, 20 bytes a packet


async def test_fallback_when_bluez_offers_no_acquire(fake_bluez: FakeBlueZ) -> None:
    """Indicate instead of notify (no NotifyAcquired), write requests only (no WriteAcquired):
    the link uses StartNotify and WriteValue and the values still arrive."""
    battery = SimBattery(cells=16, soc_pct=44.0, current_a=3.0)
    table = (CharSpec(JBD_NOTIFY, ("read", "indicate")), CharSpec(JBD_WRITE, ("write",)))
    add_jbd(fake_bluez, battery, characteristics=table)
    link = BleakLink(MAC, name="pack")
    await link.connect(timeout=3.0)
    got: list[bytes] = []
    try:
        await link.start_notify(JBD_NOTIFY, got.append)
        await link.write(JBD_WRITE, bytes.fromhex("dda50300fffd77"), response=None)
        await seconds_until(lambda: b"".join(got).endswith(b"\x77"), 2.0)
        chars = fake_bluez._live[fake_bluez.device(MAC).path].chars
        assert chars[JBD_NOTIFY].notifying  # StartNotify
    finally:
        await link.disconnect()
    assert b"".join(got)[:3] == bytes.fromhex("dd0300")  # basic info, status OK
    assert fake_bluez.acquisitions == 0
    assert link.sockets.notify_enabled  # a refusal is not a failure: next connection tries again


async def test_fallback_when_acquire_is_refused(fake_bluez: FakeBlueZ) -> None:
    """NotifyAcquired is there but AcquireNotify answers InProgress (another client holds a
    StartNotify session): the link falls back to StartNotify."""
    battery = SimBattery(cells=16, soc_pct=44.0, current_a=3.0)
    device = add_jbd(fake_bluez, battery)
    link = BleakLink(MAC, name="pack")
    await link.connect(timeout=3.0)
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    got: list[bytes] = []
    try:
        live = fake_bluez._live[device.path]
        path = next(p for p, obj in live.gatt if obj is live.chars[JBD_NOTIFY])
        reply = await call_char(bus, path, "StartNotify")
        assert reply.message_type == MessageType.METHOD_RETURN
        await link.start_notify(JBD_NOTIFY, got.append)
        await link.write(JBD_WRITE, bytes.fromhex("dda50300fffd77"), response=False)
        await seconds_until(lambda: b"".join(got).endswith(b"\x77"), 2.0)
    finally:
        await link.disconnect()
        bus.disconnect()
    assert fake_bluez.acquisitions == 1  # the write socket; the notify one was refused
    assert b"".join(got)[:3] == bytes.fromhex("dd0300")


async def test_link_loss_while_acquired_reconnects(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=16, soc_pct=71.0, current_a=-2.0)
    add_jbd(fake_bluez, battery)
    cfg = config("jbd")
    source = build_source(cfg.batteries[0], cfg)
    link = link_of(source)
    try:
        assert_jbd(await source.sample(), battery)
        assert fake_bluez.acquisitions == 2
        await fake_bluez.drop(MAC)
        await seconds_until(link.lost.is_set, 2.0)  # EOF on the sockets (or bleak) says so
        resumed = None
        async with asyncio.timeout(10):
            while resumed is None:
                try:
                    resumed = await source.sample()
                except Exception:
                    await asyncio.sleep(0.1)
        assert fake_bluez.acquisitions == 4  # acquired again on the new connection
    finally:
        await source.close()
    assert_jbd(resumed, battery)
    assert source.health.connects == 2 and source.health.drops == 1
    assert link.sockets.notify_enabled  # a real drop after notifications is no reason to give up


async def test_socket_closed_before_any_notification_falls_back(fake_bluez: FakeBlueZ) -> None:
    """BlueZ closing the notify socket before it delivered anything (a known field quirk):
    the link reports the loss each time; twice in a row, and it uses StartNotify from then
    on (once is an ordinary drop, not the quirk)."""
    battery = SimBattery(cells=16, soc_pct=52.0, current_a=1.0)
    device = add_jbd(fake_bluez, battery)
    link = BleakLink(MAC, name="pack")
    try:
        for _attempt in range(2):
            await link.connect(timeout=3.0)
            assert link.sockets.notify_enabled  # not after the first early close
            await link.start_notify(JBD_NOTIFY, lambda _data: None)
            char = fake_bluez._live[device.path].chars[JBD_NOTIFY]
            fake_bluez._release(char, "notify")  # what bluetoothd does on a failed subscription
            await seconds_until(link.lost.is_set, 2.0)
        assert not link.sockets.notify_enabled
        await link.connect(timeout=3.0)
        got: list[bytes] = []
        await link.start_notify(JBD_NOTIFY, got.append)
        await link.write(JBD_WRITE, bytes.fromhex("dda50300fffd77"), response=False)
        await seconds_until(lambda: b"".join(got).endswith(b"\x77"), 2.0)
        assert fake_bluez._live[device.path].chars[JBD_NOTIFY].notifying  # StartNotify now
    finally:
        await link.disconnect()


async def test_no_descriptor_leaks(fake_bluez: FakeBlueZ) -> None:
    battery = SimBattery(cells=16, soc_pct=61.0, current_a=0.5)
    add_jbd(fake_bluez, battery)
    cfg = config("jbd")

    async def cycle() -> None:
        source = build_source(cfg.batteries[0], cfg)
        try:
            assert_jbd(await source.sample(), battery)
        finally:
            await source.close()

    def settled_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    await cycle()  # opens the shared bus and bleak's manager connection once
    await asyncio.sleep(0.3)  # bleak closes a client's bus connection after it returns
    gc.collect()
    before = settled_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)  # a socket dropped without close()
        for _ in range(4):
            await cycle()
        await asyncio.sleep(0.3)
        gc.collect()
    assert fake_bluez.acquisitions == 10
    assert settled_fds() <= before  # earlier tests' connections may still be closing
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_write_longer_than_one_command_goes_to_bluez_as_before(
    fake_bluez: FakeBlueZ,
) -> None:
    """A write command longer than mtu - 3 cannot go through the socket (bluetoothd would drop
    it silently); it goes to WriteValue, which BlueZ refuses while the write socket is out
    (real BlueZ refuses it anyway: it does not fit one ATT PDU). The link stays usable."""
    device = add_jbd(fake_bluez, SimBattery(cells=16))
    link = BleakLink(MAC, name="pack")
    await link.connect(timeout=3.0)
    try:
        await link.write(JBD_WRITE, bytes.fromhex("dda50300fffd77"), response=False)
        with pytest.raises(LinkError, match="Write acquired"):
            await link.write(JBD_WRITE, bytes(21), response=False)
        await link.write(JBD_WRITE, bytes.fromhex("dda50400fffc77"), response=False)
    finally:
        await link.disconnect()
    assert device.writes == [bytes.fromhex("dda50300fffd77"), bytes.fromhex("dda50400fffc77")]
    assert fake_bluez.acquisitions == 1
