"""A VE.Direct device (BMV/SmartShunt or MPPT) on a serial port as a ``Source``.

A reader task feeds every byte into the codec; a verified block replaces the fields it
carries (the BMV's live and history blocks merge). ``sample()`` decodes the latest fields if a
live block came within ``stale_after_s``, else raises ``NoData``: a corrupt block is counted
and dropped, so the last good state stays until it is stale. Link failures reopen the port
with backoff. HEX Set (charger on/off) is only sent with ``allow_control``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from batmux.devices.health import Health
from batmux.errors import (
    BatmuxError,
    ControlRefused,
    LinkError,
    LinkTimeout,
    NoData,
    ProtocolError,
)
from batmux.model.sample import BatterySample
from batmux.protocols.vedirect_fields import MpptReading, decode_fields, decode_mppt, is_mppt
from batmux.protocols.vedirect_hex import (
    CMD_GET,
    CMD_SET,
    DEVICE_MODE_OFF,
    DEVICE_MODE_ON,
    REG_DEVICE_MODE,
    HexFrame,
    build_get,
    build_set,
    parse_hex_response,
)
from batmux.protocols.vedirect_text import VeDirectCodec, parse_block

log = logging.getLogger(__name__)


class PortLink(Protocol):
    port: str

    async def open(self, timeout: float = 5.0) -> None: ...
    async def read(self, timeout: float) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class VeDirectSource:
    def __init__(
        self,
        name: str,
        link: PortLink,
        codec: VeDirectCodec | None = None,
        allow_control: bool = False,
        stale_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        retry_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.name = name
        self.link = link
        self.codec = codec or VeDirectCodec()
        self.allow_control = allow_control
        self.stale_after_s = stale_after_s
        self.health = Health()
        self.fields: dict[str, str] = {}
        self.last_block_at = 0.0
        self._clock = clock
        self._wall = wall_clock
        self._retry = retry_s
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[tuple[int, int], asyncio.Future[HexFrame]] = {}
        self._counted_corrupt = 0
        self._hex_lock = asyncio.Lock()

    # -- reader ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read_forever())

    async def _read_forever(self) -> None:
        delay = self._retry[0]
        while True:
            try:
                await self.link.open()
                self.health.connects += 1
                while True:
                    self.on_bytes(await self.link.read(self.stale_after_s))
                    delay = self._retry[0]
            except LinkTimeout as exc:
                self.health.timeouts += 1
                self.health.error(f"{type(exc).__name__}: {exc}")
            except LinkError as exc:
                self.health.drops += 1
                self.health.error(f"{type(exc).__name__}: {exc}")
                log.warning("%s: %s; reopening in %.1f s", self.name, exc, delay)
            await self.link.close()
            await asyncio.sleep(delay)
            delay = min(self._retry[1], delay * 2)

    def on_bytes(self, chunk: bytes) -> None:
        """Feed bytes from the port (also usable without a reader task, e.g. in tests)."""
        for block in self.codec.feed(chunk):
            try:
                fields = parse_block(block)
            except ProtocolError as exc:
                self.codec.reject(exc)
                continue
            self.fields.update(fields)
            if "V" in fields or "SOC" in fields:
                self.last_block_at = self._clock()
        for line in self.codec.pop_hex():
            try:
                frame = parse_hex_response(line)
            except ProtocolError as exc:
                self.codec.reject(exc)
                continue
            future = self._pending.get((frame.command, frame.register or 0))
            if future is not None and not future.done():
                future.set_result(frame)
        self._sync_corrupt()

    def _sync_corrupt(self) -> None:
        corrupt = self.codec.corrupt_frames
        if corrupt != self._counted_corrupt:
            self.health.corrupt_frames += corrupt - self._counted_corrupt
            self._counted_corrupt = corrupt
            self.health.last_error = f"corrupt frame: {self.codec.last_error}"

    # -- Source ----------------------------------------------------------------------------
    def _fresh_fields(self) -> dict[str, str]:
        self.start()
        if not self.last_block_at:
            raise NoData(f"{self.name}: no VE.Direct block yet")
        age = self._clock() - self.last_block_at
        if age > self.stale_after_s:
            raise NoData(f"{self.name}: last VE.Direct block {age:.0f} s old")
        return dict(self.fields)

    async def sample(self) -> BatterySample:
        fields = self._fresh_fields()
        try:
            sample = decode_fields(fields, self._wall(), self.codec.capacity_ah)
        except ProtocolError as exc:
            self.health.error(f"{type(exc).__name__}: {exc}")
            raise
        self.health.samples += 1
        return sample

    async def mppt_reading(self) -> MpptReading:
        """The charger's full reading (state names and all) for an MPPT."""
        fields = self._fresh_fields()
        if not is_mppt(fields):
            raise ProtocolError(f"{self.name}: not a solar charger")
        return decode_mppt(fields, self._wall())

    async def request(self, frame: bytes, command: int, register: int, timeout: float = 2.0):
        """Send a HEX command and wait for the answer with the same command and register."""
        self.start()
        async with self._hex_lock:
            future: asyncio.Future[HexFrame] = asyncio.get_running_loop().create_future()
            self._pending[(command, register)] = future
            try:
                await self.link.write(frame)
                async with asyncio.timeout(timeout):
                    answer = await future
            except TimeoutError as exc:
                raise LinkTimeout(f"{self.name}: no answer to HEX {frame!r}") from exc
            finally:
                self._pending.pop((command, register), None)
        if not answer.ok:
            raise ProtocolError(f"{self.name}: register {register:#06x} flags {answer.flags}")
        return answer

    async def get_register(self, register: int, timeout: float = 2.0) -> HexFrame:
        return await self.request(build_get(register), CMD_GET, register, timeout)

    async def set_switch(self, switch: str, on: bool) -> None:
        if not self.allow_control:
            raise ControlRefused(f"{self.name}: set 'allow_control: true' to switch the charger")
        if switch != "charge" or (self.fields and not is_mppt(self.fields)):
            raise ControlRefused(f"{self.name}: only 'charge' on a solar charger can be switched")
        mode = DEVICE_MODE_ON if on else DEVICE_MODE_OFF
        answer = await self.request(build_set(REG_DEVICE_MODE, mode), CMD_SET, REG_DEVICE_MODE)
        if answer.value_int() != mode:
            raise ProtocolError(f"{self.name}: charger kept mode {answer.value_int()}")
        log.info("%s: charger switched %s", self.name, "on" if on else "off")

    async def close(self) -> None:
        task, self._task = self._task, None
        await close_port(task, self.link)


async def close_port(task: asyncio.Task[None] | None, link: PortLink) -> None:
    """Stop a port source's reader task, close its link, and end a simulated port's device."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, BatmuxError):
            await task
    await link.close()
    shutdown = getattr(link, "shutdown", None)
    if shutdown is not None:
        await shutdown()


def create_source(battery: Any, context: Any = None) -> VeDirectSource:
    """Registry factory ``(battery_config, context) -> Source`` for ``type: vedirect``."""
    from batmux.errors import ConfigError
    from batmux.links.serial_link import SerialLink

    stale = float(getattr(battery, "timeout", 10.0))
    capacity = battery.sim.capacity_ah if battery.sim is not None else None
    if battery.is_sim or battery.address == "sim:mppt":
        from batmux.sim.vedirect import SimPortLink

        link: PortLink = SimPortLink.from_config(battery)
    elif battery.port:
        link = SerialLink(battery.port, battery.baudrate)
    else:
        raise ConfigError("<config>", f"batteries.{battery.name}.port", "vedirect needs 'port:'")
    return VeDirectSource(
        battery.name,
        link,
        VeDirectCodec(capacity_ah=capacity),
        allow_control=battery.allow_control,
        stale_after_s=stale,
    )
