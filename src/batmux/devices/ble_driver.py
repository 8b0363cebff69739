"""Base of every BLE BMS driver: a codec bound to a ``BleLink`` with a request sequence.

A driver subscribes to the notify characteristic, feeds every notification to its codec and
queues the complete frames; ``read_sample()`` sends the family's requests and decodes the
answers. Drivers know nothing about reconnects: ``BleSource`` owns the connection policy.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from batmux.errors import ControlRefused, CorruptFrame, LinkTimeout
from batmux.links.ble import BleLink
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec


@dataclass(frozen=True, slots=True)
class BleSpec:
    """GATT layout and advertisement hints of one BMS family."""

    service_uuid: str
    notify_uuid: str
    write_uuid: str
    name_patterns: tuple[str, ...] = ()  # regexes matched against the advertised name
    manufacturer_ids: tuple[int, ...] = ()


def _resolve(waiter: asyncio.Future[bool], arrived: bool) -> None:
    if not waiter.done():
        waiter.set_result(arrived)


# Queued when the codec dropped a corrupt frame: a waiting request can ask again at once
# instead of sitting out its whole timeout. No real frame is empty.
DROPPED = b""


class BleDriver(ABC):
    """Request/response logic of one BLE family on top of its codec."""

    spec: ClassVar[BleSpec]
    switches: ClassVar[tuple[str, ...]] = ()

    def __init__(self, link: BleLink, codec: Codec, allow_control: bool = False) -> None:
        self.link = link
        self.codec = codec
        self.allow_control = allow_control
        # Complete frames not yet taken, and the next_frame() calls waiting for one. A deque
        # and bare futures instead of asyncio.Queue under asyncio.timeout: this runs for every
        # answer of every battery, and it is about half the event-loop work.
        self._frames: deque[bytes] = deque()
        self._waiters: list[asyncio.Future[bool]] = []
        self.last_frame_at = 0.0
        self.on_raw: Callable[[str, bytes], None] | None = None  # capture hook (direction, bytes)

    async def start(self) -> None:
        """Called after every (re)connect."""
        self._frames = deque()
        await self.link.start_notify(self.spec.notify_uuid, self._on_notify)

    def _on_notify(self, chunk: bytes) -> None:
        if self.on_raw is not None:
            self.on_raw("rx", chunk)
        corrupt_before = self.codec.corrupt_frames
        frames = self.codec.feed(chunk)
        if frames:
            self.last_frame_at = time.monotonic()
            self._frames.extend(frames)
        if self.codec.corrupt_frames != corrupt_before:
            self._frames.append(DROPPED)
        if self._frames:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                _resolve(waiter, True)

    async def send(self, data: bytes, response: bool | None = False) -> None:
        if self.on_raw is not None:
            self.on_raw("tx", data)
        await self.link.write(self.spec.write_uuid, data, response=response)

    async def next_frame(
        self, accept: Callable[[bytes], bool], timeout: float, stop_on_corrupt: bool = False
    ) -> bytes:
        """The next frame that ``accept`` takes; others are discarded. ``stop_on_corrupt``:
        raise ``CorruptFrame`` as soon as the codec drops a corrupt frame."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if not frame:  # DROPPED
                    if stop_on_corrupt:
                        raise CorruptFrame(f"corrupt answer: {self.codec.last_error}")
                elif accept(frame):
                    return frame
            waiter: asyncio.Future[bool] = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_at(deadline, _resolve, waiter, False)
            try:
                arrived = await waiter
            finally:
                timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if not arrived:
                detail = f" (last error: {self.codec.last_error})" if self.codec.last_error else ""
                raise LinkTimeout(f"no answer within {timeout:.1f} s{detail}")

    def drain(self) -> None:
        self._frames.clear()

    def take(self, accept: Callable[[bytes], bool]) -> list[bytes]:
        """Empty the queue: the frames ``accept`` takes, in order (corrupt-frame marks and
        other frames are dropped)."""
        frames = [frame for frame in self._frames if frame and accept(frame)]
        self._frames.clear()
        return frames

    @abstractmethod
    async def read_sample(self, timeout: float) -> BatterySample:
        """Request and decode one sample."""

    async def set_switch(self, switch: str, on: bool) -> None:
        if not self.allow_control:
            raise ControlRefused("allow_control is not set for this battery")
        if switch not in self.switches:
            raise ControlRefused(f"this BMS has no {switch!r} switch (has: {self.switches})")
        await self._write_switch(switch, on)

    async def _write_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused("this BMS protocol has no switch commands")

    @staticmethod
    def decode_now(codec: Codec, frames: Sequence[bytes]) -> BatterySample:
        return codec.decode(frames, time.time())
