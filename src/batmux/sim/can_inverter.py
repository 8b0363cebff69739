"""Simulated inverters on a CAN bus: the other end of the BYD-CAN and Pylontech emulations.

Both record every frame they receive (``received``: loop time, id, data) and build what they
send with the real codecs' encoders. Used by tests, the benchmark and ``batmux demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from batmux.links.can_bus import CanLink
from batmux.protocols import byd_can
from batmux.protocols.can_codec import CanCodec, can_codec
from batmux.protocols.candump import Frame, pack
from batmux.protocols.pylontech_can_encode import keepalive_frame


@dataclass
class Received:
    at: float
    can_id: int
    data: bytes


@dataclass
class _Peer:
    link: CanLink
    received: list[Received] = field(default_factory=list)
    sent: int = 0
    silent: bool = False  # fault injection: stop talking, keep listening
    keep: int | None = None  # keep only the newest ``keep`` received frames (long runs)

    def frames(self, can_id: int) -> list[Received]:
        return [r for r in self.received if r.can_id == can_id]

    def times(self, can_id: int) -> list[float]:
        return [r.at for r in self.received if r.can_id == can_id]

    async def send(self, frame: Frame) -> None:
        if not self.silent:
            await self.link.send(*frame)
            self.sent += 1

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.link.recv(1.0)
            if frame is not None:
                self.received.append(Received(loop.time(), *frame))
                if self.keep is not None and len(self.received) > self.keep:
                    del self.received[: -self.keep]

    def decode(self, codec_name: str) -> object:
        """What the battery told us, decoded with the source codec (a sample)."""
        codec: CanCodec = can_codec(codec_name)
        frames = [p for r in self.received for p in codec.feed((r.can_id, r.data))]
        return codec.decode(frames)

    def packed(self) -> list[bytes]:
        return [pack((r.can_id, r.data)) for r in self.received]


@dataclass
class BydCanInverterSim(_Peer):
    """A Sungrow/GoodWe-like inverter: identification request, then 0x091/0x0D1 regularly."""

    name: str = "GOODWE"
    period_s: float = 2.0
    voltage_v: float = 212.0
    current_a: float = 0.0
    temperature_c: float = 25.0
    soc_pct: float = 50.0

    async def request_identification(self) -> None:
        await self.send((byd_can.INV_REQUEST, byd_can.encode_request(identify=True)))

    async def run(self) -> None:
        """Ask for identification, then talk every ``period_s`` until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._listen())
            await self.request_identification()
            tick = 0
            while True:
                await self.send(
                    (
                        byd_can.INV_MEASURE,
                        byd_can.encode_inverter_measure(
                            self.voltage_v, self.current_a, self.temperature_c
                        ),
                    )
                )
                await self.send((byd_can.INV_SOC, byd_can.encode_inverter_soc(self.soc_pct)))
                if tick % 5 == 0:
                    await self.send(
                        (
                            byd_can.INV_REQUEST,
                            byd_can.encode_request(identify=False, name=self.name),
                        )
                    )
                tick += 1
                await asyncio.sleep(self.period_s)


@dataclass
class PylontechInverterSim(_Peer):
    """A Victron/Deye-like inverter: 0x305 keep-alive every ``period_s``."""

    period_s: float = 1.0
    counting: bool = False  # some inverters count in 0x305 (PYLON_EMU), the spec sends zeros

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._listen())
            counter = 0
            while True:
                await self.send(keepalive_frame(counter if self.counting else 0))
                counter += 1
                await asyncio.sleep(self.period_s)


@contextlib.asynccontextmanager
async def running(peer: _Peer):  # type: ignore[no-untyped-def]
    """``async with running(sim):`` runs a peer for the block, then stops it."""
    async with peer.link:
        task = asyncio.create_task(peer.run())  # type: ignore[attr-defined]
        try:
            yield peer
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
