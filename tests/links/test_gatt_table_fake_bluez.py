"""Devices with several characteristics in the fake BlueZ, through BleakLink and bleak: each
characteristic has its own UUID, flags, read value and notifications, and the flags are
enforced the way bluetoothd enforces them."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner

from batmux.errors import LinkError
from batmux.links.ble import uuid16
from batmux.links.bleak_link import BleakLink
from batmux.sim.battery import SimBattery
from batmux.sim.fake_bluez.layout import bluez_uuid, gatt_table
from batmux.sim.fake_bluez.service import FakeBlueZ
from batmux.sim.peripheral import CharSpec, SimDevice
from ble_mini_jk import MiniJkDevice

MAC = "C8:47:8C:00:00:7E"
STATUS, COMMAND, SERIAL, TRIGGER, LEVEL = (
    uuid16(n) for n in (0xFFF1, 0xFFF2, 0xFFF3, 0xFFF4, 0xFFF5)
)


class PanelDevice(SimDevice):
    """Five characteristics, spelled the ways device tables spell them (16-bit, upper case)."""

    notify_uuid = STATUS
    write_uuid = COMMAND
    characteristics = (
        CharSpec("FFF1", ("read", "notify")),
        CharSpec(COMMAND.upper(), ("write",)),
        CharSpec("fff3", ("read",)),
        CharSpec("0000fff4", ("write-without-response",)),
        CharSpec(LEVEL, ("read", "indicate")),
    )

    def __init__(self) -> None:
        super().__init__(SimBattery())
        self.seen: list[tuple[str, bytes]] = []
        self.level = 7

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        self.seen.append((char_uuid, data))
        return [b"ack:" + data] if char_uuid == COMMAND.upper() else []

    def handle_read(self, char_uuid: str) -> bytes:
        values = {"FFF1": b"status-ok", "fff3": b"SN-0042", LEVEL: bytes([self.level])}
        return values[char_uuid]


@pytest.fixture
async def panel(fake_bluez: FakeBlueZ) -> PanelDevice:
    device = PanelDevice()
    fake_bluez.add_device(device, MAC, "PANEL-1", service_uuid=uuid16(0xFFF0))
    return device


async def connected(address: str = MAC) -> BleakLink:
    link = BleakLink(address, name="panel")
    await link.connect(timeout=3.0)
    return link


async def test_table_is_exported_with_flags(fake_bluez: FakeBlueZ, panel: PanelDevice) -> None:
    found = await BleakScanner.find_device_by_address(MAC, timeout=3.0)
    assert found is not None
    async with BleakClient(found) as client:
        service = client.services.get_service(uuid16(0xFFF0))
        assert service is not None
        table = {c.uuid: sorted(c.properties) for c in service.characteristics}
    assert table == {
        STATUS: ["notify", "read"],
        COMMAND: ["write"],
        SERIAL: ["read"],
        TRIGGER: ["write-without-response"],
        LEVEL: ["indicate", "read"],
    }


async def test_reads_writes_and_flag_rules(fake_bluez: FakeBlueZ, panel: PanelDevice) -> None:
    link = await connected()
    device = fake_bluez.device(MAC)
    try:
        assert await link.read(SERIAL) == b"SN-0042"
        assert await link.read("FFF1") == b"status-ok"  # bleak normalises, so may we
        assert await link.read(LEVEL.upper()) == b"\x07"
        with pytest.raises(LinkError, match="Read Not Permitted"):
            await link.read(COMMAND)
        # a write command needs write-without-response; a request needs write
        with pytest.raises(LinkError, match="Request Not Supported"):
            await link.write(COMMAND, b"on", response=False)
        with pytest.raises(LinkError, match="Write Not Permitted"):
            await link.write(TRIGGER, b"go", response=True)
        await link.write(COMMAND, b"on", response=True)
        await link.write(TRIGGER, b"go", response=False)
        await link.write(COMMAND, b"off", response=None)  # as declared: a request
        await link.write(TRIGGER, b"again", response=None)  # as declared: a command
        with pytest.raises(LinkError, match="start_notify"):
            await link.start_notify(SERIAL, lambda _data: None)
    finally:
        await link.disconnect()
    # the sim sees its own spelling of each UUID; the log has BlueZ's
    assert panel.seen == [
        (COMMAND.upper(), b"on"),
        ("0000fff4", b"go"),
        (COMMAND.upper(), b"off"),
        ("0000fff4", b"again"),
    ]
    assert device.write_log[0] == (COMMAND, b"on")
    assert device.reads == [SERIAL, STATUS, LEVEL]


async def test_notifications_per_characteristic(fake_bluez: FakeBlueZ, panel: PanelDevice) -> None:
    device = fake_bluez.device(MAC)
    device.value_notify_period_s = 0.03
    link = await connected()
    got: dict[str, list[bytes]] = {STATUS: [], LEVEL: []}
    try:
        await link.start_notify(STATUS, got[STATUS].append)
        await link.start_notify(LEVEL, got[LEVEL].append)
        await link.write(COMMAND, b"x", response=True)  # frames go to notify_uuid (STATUS)
        await asyncio.sleep(0.15)
        panel.level = 9
        await asyncio.sleep(0.15)
        await link.stop_notify(STATUS)
        await asyncio.sleep(0.05)
        before = len(got[STATUS])
        assert await fake_bluez.notify(MAC, "fff5", b"\x2a")  # pushed on LEVEL only
        assert not await fake_bluez.notify(MAC, STATUS, b"late")  # nobody listens there
        await asyncio.sleep(0.05)
    finally:
        await link.disconnect()
    assert b"ack:x" in got[STATUS] and b"status-ok" in got[STATUS]
    assert len(got[STATUS]) == before  # stopped means stopped
    assert set(got[LEVEL][:2]) == {b"\x07"} and b"\x09" in got[LEVEL]
    assert set(got[LEVEL]) == {b"\x07", b"\x09", b"\x2a"}  # its own values only


def test_default_tables_keep_the_classic_layout() -> None:
    one = gatt_table(MiniJkDevice())
    assert [(c.uuid, "notify" in c.flags, "write" in c.flags) for c in one] == [
        (uuid16(0xFFE1), True, True)
    ]

    class TwoChars(MiniJkDevice):
        notify_uuid, write_uuid = uuid16(0xFFE1), uuid16(0xFFE2)

    two = gatt_table(TwoChars())
    assert [c.uuid for c in two] == [uuid16(0xFFE1), uuid16(0xFFE2)]
    assert two[0].flags == ("read", "notify")
    override = (CharSpec("abcd", ("read",)),)
    assert gatt_table(TwoChars(), override) == list(override)
    with pytest.raises(ValueError, match="repeat"):
        gatt_table(TwoChars(), (CharSpec("ABCD", ("read",)), CharSpec(uuid16(0xABCD), ("read",))))


def test_bluez_spelling_of_uuids() -> None:
    assert bluez_uuid("FFE1") == uuid16(0xFFE1)
    assert bluez_uuid("0000FFE1") == uuid16(0xFFE1)
    assert bluez_uuid(" 6597ED8D-4BDA-4C1E-AF4B-551C4CF74769 ") == (
        "6597ed8d-4bda-4c1e-af4b-551c4cf74769"
    )
