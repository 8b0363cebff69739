"""AcquiredSocket on a real SOCK_SEQPACKET pair, the kind BlueZ hands out: one packet per
notification (an empty one included), EOF from the other end reported once, sends intact."""

from __future__ import annotations

import asyncio
import socket

from batmux.links.bluez_sockets import AcquiredSocket
from bluez_fixtures import seconds_until


async def test_packets_empty_packets_and_hangup() -> None:
    ours, bluez = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    got: list[bytes] = []
    ended: list[AcquiredSocket] = []
    acquired = AcquiredSocket(ours, 23, got.append, ended.append)
    with bluez:
        for packet in (b"\xdd\x03\x00", b"", b"x" * 20):  # an empty notification is legal
            bluez.send(packet)
        await seconds_until(lambda: len(got) == 3, 2.0)
        await acquired.send(b"\xdd\xa5\x03\x00\xff\xfd\x77")
        assert bluez.recv(512) == b"\xdd\xa5\x03\x00\xff\xfd\x77"  # one write, one packet
        assert acquired.max_write == 20 and not ended
    await seconds_until(lambda: bool(ended), 2.0)  # BlueZ's end closed: reported once
    await asyncio.sleep(0.05)
    assert got == [b"\xdd\x03\x00", b"", b"x" * 20]
    assert ended == [acquired] and acquired.closed and acquired.packets == 3
    acquired.close()  # idempotent
    assert ours.fileno() == -1
