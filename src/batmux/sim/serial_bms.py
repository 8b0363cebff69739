"""A BLE family simulator on a serial port: the device end of a wired JBD or Daly BMS.

``SerialBmsSimulator`` reads host requests from a port (one end of a socat pty pair), frames
them by the family's request layout, hands each to the family's ``SimDevice`` (which answers
through the real codec's encoders) and writes the reply frames back on the wire.
``WiredDalySimDevice`` is a Daly board on its UART/RS485 port: it only answers host byte 0x40
and sends as many cell/temperature frames as the pack has (the BLE module always sends all).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from batmux.errors import LinkError, LinkTimeout
from batmux.protocols import daly, jbd
from batmux.sim.battery import SimBattery
from batmux.sim.daly import DalySimDevice
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.peripheral import SimDevice
from batmux.sim.port import ByteLink, PortSimulator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestFraming:
    """Where a host request starts and how long it is (None: more bytes needed to know)."""

    start: int
    length: Callable[[bytes], int | None]


def _jbd_length(buf: bytes) -> int | None:
    return buf[3] + 7 if len(buf) >= 4 else None  # DD A5 reg len data… chk chk 77


FRAMINGS: dict[type[SimDevice], RequestFraming] = {
    JbdSimDevice: RequestFraming(jbd.START, _jbd_length),
    DalySimDevice: RequestFraming(daly.START, lambda buf: daly.FRAME_LEN),
}


def framing_for(device: SimDevice) -> RequestFraming:
    for cls, framing in FRAMINGS.items():
        if isinstance(device, cls):
            return framing
    raise ValueError(f"{type(device).__name__} has no wired request framing")


class WiredDalySimDevice(DalySimDevice):
    """A Daly board on UART/RS485: host 0x40 only, replies sized to the pack."""

    def __init__(self, battery: SimBattery, hosts: tuple[int, ...] = (daly.HOST_ALT,)) -> None:
        super().__init__(battery, hosts)

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        frames = super().handle_write(char_uuid, data)
        if not frames or frames[0][2] not in (daly.CMD_CELLS, daly.CMD_TEMPS):
            return frames
        if frames[0][2] == daly.CMD_CELLS:
            needed = math.ceil(self.battery.cells / daly.CELLS_PER_FRAME)
        else:
            temps = len(self.battery.truth().temperatures_c)
            needed = math.ceil(temps / daly.TEMPS_PER_FRAME)
        return [f for f in frames if f[4] <= needed]  # data byte 0 = frame number


class SerialBmsSimulator(PortSimulator):
    """Answers the host's requests on ``link`` until the port goes away or ``stop()``."""

    def __init__(self, device: SimDevice, link: ByteLink, echo: bool = False) -> None:
        self.device = device
        self.link = link
        self.echo = echo  # an RS485 adapter that hears its own transmission
        self.framing = framing_for(device)
        self.requests: list[bytes] = []  # every framed request, as it came off the wire
        self._buffer = bytearray()

    def split(self, chunk: bytes) -> list[bytes]:
        """Whole requests in the byte stream so far; junk before a start byte is dropped."""
        buf = self._buffer
        buf += chunk
        out: list[bytes] = []
        while buf:
            start = buf.find(self.framing.start)
            if start < 0:
                buf.clear()
                break
            del buf[:start]
            length = self.framing.length(bytes(buf))
            if length is None or len(buf) < length:
                break
            out.append(bytes(buf[:length]))
            del buf[:length]
        return out

    async def run(self) -> None:
        while True:
            try:
                chunk = await self.link.read(3600.0)
            except LinkTimeout:
                continue
            for request in self.split(chunk):
                self.requests.append(request)
                if self.echo:
                    await self.link.write(request)
                for frame in self.device.handle_write(self.device.write_uuid, request):
                    await self.link.write(frame)

    async def _guarded(self) -> None:
        try:
            await self.run()
        except LinkError as exc:  # the port went away: the device is gone with it
            log.info("wired BMS sim stopped: %s", exc)
