"""``SerialBmsLink`` on a socat pty pair: the ``BleLink`` contract over a wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from batmux.errors import DeviceNotFound, LinkError
from batmux.links.ble import BleLink, uuid16
from batmux.links.serial_bms import SerialBmsLink
from batmux.links.serial_link import SerialLink
from batmux.protocols import jbd
from batmux.protocols.jbd import JbdCodec
from batmux.sim.battery import SimBattery

ANY_UUID = uuid16(0xFF02)  # ignored on a wire


async def test_writes_go_out_and_chunks_come_in_as_they_arrive(
    pty_pair: tuple[str, str],
) -> None:
    device = SerialLink(pty_pair[0], 9600)
    await device.open()
    link = SerialBmsLink(SerialLink(pty_pair[1], 9600))
    assert isinstance(link, BleLink)
    chunks: list[bytes] = []
    try:
        await link.connect(timeout=2)
        await link.start_notify(uuid16(0xFF01), chunks.append)
        await link.write(ANY_UUID, jbd.request(jbd.REG_BASIC))
        assert await device.read(2.0) == jbd.request(jbd.REG_BASIC)

        reply = jbd.build_basic_info(SimBattery(cells=4, current_a=-2.5).truth())
        for i in range(0, len(reply), 11):  # a reply that trickles in
            await device.write(reply[i : i + 11])
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.05)
        assert len(chunks) >= 2 and b"".join(chunks) == reply
        codec = JbdCodec()
        frames = [f for c in chunks for f in codec.feed(c)]
        assert frames == [reply]
        assert codec.decode(frames).current_a == -2.5
    finally:
        await link.disconnect()
        await device.close()
    assert not link.is_connected


async def test_missing_port_is_device_not_found(tmp_path: Path) -> None:
    link = SerialBmsLink(SerialLink(str(tmp_path / "ttyNONE")))
    with pytest.raises(DeviceNotFound, match="ttyNONE"):
        await link.connect(timeout=1)
    assert not link.is_connected
    with pytest.raises(LinkError):
        await link.write(ANY_UUID, b"\x00")
    with pytest.raises(LinkError):
        await link.start_notify(ANY_UUID, lambda _: None)


async def test_no_readable_characteristics_and_reconnect(pty_pair: tuple[str, str]) -> None:
    link = SerialBmsLink(SerialLink(pty_pair[1]))
    await link.connect(timeout=2)
    with pytest.raises(LinkError, match="no readable"):
        await link.read(ANY_UUID)
    await link.disconnect()
    assert not link.is_connected
    await link.connect(timeout=2)  # the same port opens again
    assert link.is_connected and not link.lost.is_set()
    await link.disconnect()
