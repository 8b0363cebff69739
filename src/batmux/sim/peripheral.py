"""A simulated BLE peripheral behind the same interface as ``BleakLink``.

It hosts a ``SimDevice`` (the device side of one protocol). Writes go to the device; the frames
it answers are split into MTU-sized notifications and delivered after a realistic delay, a few
notifications per connection event (``chunks_per_event``). Fault injection lives here because
it is a property of the radio/device, not of the protocol: ``stop_after`` (the device stops
answering) and ``corrupt_rate`` (a byte of a frame flipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from batmux.errors import DeviceNotFound, LinkError
from batmux.links.ble import NotifyCallback
from batmux.sim.battery import SimBattery


@dataclass(frozen=True, slots=True)
class CharSpec:
    """One GATT characteristic a device exports: its UUID and BlueZ's property flags
    (``read``, ``write``, ``write-without-response``, ``notify``, ``indicate``)."""

    uuid: str
    flags: tuple[str, ...]


def maybe_corrupt(rng: random.Random, rate: float, frame: bytes) -> bytes:
    """``frame`` with one byte flipped, at probability ``rate`` (fault injection)."""
    if rate <= 0 or rng.random() >= rate or not frame:
        return frame
    data = bytearray(frame)
    data[rng.randrange(len(data))] ^= 0x5A
    return bytes(data)


class SimDevice(ABC):
    """The device side of one BLE protocol."""

    #: characteristic the device notifies on, and the one it accepts writes on
    notify_uuid: str
    write_uuid: str
    #: the full GATT table, for devices with more than these two (empty: derived from them)
    characteristics: tuple[CharSpec, ...] = ()
    #: if set, the peripheral calls ``stream()`` at this period while notifications are on
    stream_period_s: float | None = None

    def __init__(self, battery: SimBattery) -> None:
        self.battery = battery

    @abstractmethod
    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        """Answer one write with zero or more whole frames."""

    def stream(self) -> list[bytes]:
        """Frames the device sends by itself (JK streams cell info after the start request)."""
        return []

    def handle_read(self, char_uuid: str) -> bytes:
        raise LinkError(f"characteristic {char_uuid} is not readable")


class SimPeripheral:
    """BleLink implementation that talks to a ``SimDevice`` in-process."""

    def __init__(
        self,
        device: SimDevice,
        address: str = "sim",
        mtu_payload: int = 20,
        latency_s: float = 0.01,
        chunk_gap_s: float = 0.002,
        chunks_per_event: int = 4,
        stop_after_s: float | None = None,
        corrupt_rate: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.device = device
        self.mtu_payload = mtu_payload
        self.latency_s = latency_s
        self.chunk_gap_s = chunk_gap_s
        self.chunks_per_event = max(1, chunks_per_event)
        self.stop_after_s = stop_after_s
        self.corrupt_rate = corrupt_rate
        self._rng = random.Random(seed)
        self._clock = clock
        self._born = clock()
        self._connected = False
        self._callbacks: dict[str, NotifyCallback] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self.writes: list[bytes] = []

    # -- fault injection ---------------------------------------------------------------------
    @property
    def dead(self) -> bool:
        return self.stop_after_s is not None and self._clock() - self._born >= self.stop_after_s

    # -- BleLink -----------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._connected and not self.dead

    async def connect(self, timeout: float = 20.0) -> None:
        if self.dead:
            await asyncio.sleep(min(timeout, 0.05))
            raise DeviceNotFound(f"{self.address} not found (simulated device stopped)")
        await asyncio.sleep(self.latency_s)
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False
        self._callbacks.clear()
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream_task
            self._stream_task = None
        for task in list(self._tasks):
            task.cancel()

    def _require(self) -> None:
        if not self.is_connected:
            raise LinkError(f"{self.address} is not connected")

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        self._require()
        self._callbacks[char_uuid] = callback
        if self.device.stream_period_s and self._stream_task is None:
            self._stream_task = asyncio.create_task(self._stream())

    async def stop_notify(self, char_uuid: str) -> None:
        self._callbacks.pop(char_uuid, None)

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        self._require()
        self.writes.append(bytes(data))
        frames = self.device.handle_write(char_uuid, bytes(data))
        if frames:
            self._send_later(frames)

    async def read(self, char_uuid: str) -> bytes:
        self._require()
        await asyncio.sleep(self.latency_s)
        return self.device.handle_read(char_uuid)

    # -- delivery ----------------------------------------------------------------------------
    def _send_later(self, frames: list[bytes]) -> None:
        task = asyncio.create_task(self._deliver(frames))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, frames: list[bytes]) -> None:
        await asyncio.sleep(self.latency_s)
        for frame in frames:
            if self.dead or not self._connected:
                return
            frame = maybe_corrupt(self._rng, self.corrupt_rate, frame)
            mtu, per_event = self.mtu_payload, self.chunks_per_event
            chunks = [frame[i : i + mtu] for i in range(0, len(frame), mtu)]
            # Like a BLE connection event, several notifications go out back to back, then
            # the link waits: the same average rate as one chunk per ``chunk_gap_s``, with one
            # timer per event instead of one per 20-byte chunk (cheap at hundreds of devices).
            for first in range(0, len(chunks), per_event):
                event = chunks[first : first + per_event]
                for chunk in event:
                    callback = self._callbacks.get(self.device.notify_uuid)
                    if callback is None:
                        return
                    callback(chunk)
                if self.chunk_gap_s:
                    await asyncio.sleep(self.chunk_gap_s * len(event))

    async def _stream(self) -> None:
        period = self.device.stream_period_s or 1.0
        while self._connected:
            await asyncio.sleep(period)
            if self.dead:
                continue
            frames = self.device.stream()
            if frames:
                await self._deliver(frames)
