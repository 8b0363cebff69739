"""``type: junctek``: a Junctek KH-F/KG-F shunt on RS485, polled as the field polls it.

Every ``poll_interval`` the source writes ``:R50=<addr>,2,1,`` (and ``:R51=`` now and then
for the preset capacity, until ``capacity_ah`` is configured); a reader task feeds whatever
arrives (replies, a KG-F's unsolicited lines, the display's own requests on a shared pair) into
the codec. ``sample()`` decodes the newest verified lines if the measurement is younger than
``timeout:``, else raises ``NoData``: a corrupt line is counted and dropped. The SoC is the
shunt's counter, corrected from the resting voltage by ``core/ocv_soc.py`` when
``junctek.soc_fallback`` is set. Link failures reopen the port with backoff. Nothing but read
requests is ever sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from batmux.core.ocv_soc import SocFallback
from batmux.devices.health import Health
from batmux.devices.junctek_options import JunctekOptions
from batmux.devices.vedirect_source import PortLink, close_port
from batmux.errors import ControlRefused, LinkError, LinkTimeout, NoData, ProtocolError
from batmux.model.sample import BatterySample
from batmux.protocols import junctek as j

log = logging.getLogger(__name__)
BAUDRATE = 115200


class JunctekSource:
    def __init__(
        self,
        name: str,
        link: PortLink,
        options: JunctekOptions | None = None,
        stale_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        retry_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.name = name
        self.link = link
        self.options = options or JunctekOptions()
        self.codec = j.JunctekCodec(self.options.rs485_address, self.options.capacity_ah)
        self.stale_after_s = stale_after_s
        self.health = Health()
        fallback = self.options.soc_fallback
        self.soc_fallback = SocFallback(fallback.rule()) if fallback else None
        self._clock = clock
        self._wall = wall_clock
        self._retry = retry_s
        self._measure: tuple[bytes, float] | None = None
        self._settings: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._counted_corrupt = 0

    # -- I/O -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run_forever())

    async def _run_forever(self) -> None:
        delay = self._retry[0]
        while True:
            opened_at = self._clock()
            try:
                await self.link.open()
                self.health.connects += 1
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._read_loop())
                    tg.create_task(self._poll_loop())
            except* LinkError as group:
                exc = group.exceptions[0]
                self.health.drops += 1
                self.health.error(f"{type(exc).__name__}: {exc}")
                log.warning("%s: %s; reopening in %.1f s", self.name, exc, delay)
            await self.link.close()
            if self._measure is not None and self._measure[1] >= opened_at:
                delay = self._retry[0]  # it worked for a while: not a port that keeps failing
            await asyncio.sleep(delay)
            delay = min(self._retry[1], delay * 2)

    async def _read_loop(self) -> None:
        while True:
            try:
                chunk = await self.link.read(3600.0)
            except LinkTimeout:
                continue
            self.on_bytes(chunk)

    async def _poll_loop(self) -> None:
        opts = self.options
        settings_due = 0.0
        while True:
            now = self._clock()
            if opts.capacity_ah is None and now >= settings_due:
                await self.link.write(j.build_request(j.SETTINGS, opts.rs485_address))
                settings_due = now + opts.settings_interval
                await asyncio.sleep(0.05)  # half-duplex RS485: one request on the pair at a time
            await self.link.write(j.build_request(j.MEASURE, opts.rs485_address))
            await asyncio.sleep(opts.poll_interval)

    def on_bytes(self, chunk: bytes) -> None:
        """Feed bytes from the port (usable without the tasks, e.g. in tests)."""
        now = self._clock()
        for line in self.codec.feed(chunk):
            if line.startswith(b":r%02d" % j.MEASURE):
                self._measure = (line, now)
            else:
                self._settings = line
        corrupt = self.codec.corrupt_frames
        if corrupt != self._counted_corrupt:
            self.health.corrupt_frames += corrupt - self._counted_corrupt
            self._counted_corrupt = corrupt
            self.health.last_error = f"corrupt line: {self.codec.last_error}"

    # -- Source ----------------------------------------------------------------------------
    async def sample(self) -> BatterySample:
        self.start()
        await asyncio.sleep(0)
        if self._measure is None:
            raise NoData(f"{self.name}: no :r50= line yet")
        line, at = self._measure
        age = self._clock() - at
        if age > self.stale_after_s:
            raise NoData(f"{self.name}: last :r50= line {age:.0f} s old")
        frames = [f for f in (self._settings, line) if f is not None]
        try:
            sample = self.codec.decode(frames, self._wall())
        except ProtocolError as exc:
            self.health.error(f"{type(exc).__name__}: {exc}")
            raise
        sample = self._apply_fallback(sample)
        self.health.samples += 1
        return sample

    def _apply_fallback(self, sample: BatterySample) -> BatterySample:
        if self.soc_fallback is None:
            return sample
        d = self.soc_fallback.update(
            self._clock(), sample.voltage_v, sample.current_a, sample.soc_pct
        )
        extra = dict(sample.extra, soc_source=d.source, soc_offset=d.offset_pct)
        if d.counter_soc_pct is not None:
            extra["soc_counter"] = d.counter_soc_pct
        if d.ocv_soc_pct is not None:
            extra["soc_ocv"] = d.ocv_soc_pct
        return sample.with_(soc_pct=d.soc_pct, extra=extra)

    def status(self) -> dict[str, object]:
        return {
            **self.health.to_json(),
            "requests_seen": self.codec.requests_seen,
            "other_replies": self.codec.other_replies,
            "soc_corrections": self.soc_fallback.corrections if self.soc_fallback else 0,
        }

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused(f"{self.name}: a Junctek shunt is read-only here")

    async def close(self) -> None:
        task, self._task = self._task, None
        await close_port(task, self.link)


def create_source(battery: Any, context: Any = None) -> JunctekSource:
    """Registry factory for ``type: junctek`` (``address:`` port or ``sim``, ``baudrate:``
    (default 115200), ``timeout:``, the ``junctek:`` section)."""
    from batmux.links.serial_bms import serial_port
    from batmux.links.serial_link import SerialLink

    options = getattr(battery, "junctek", None) or JunctekOptions()
    if battery.is_sim:
        from batmux.sim.junctek import JunctekSimPortLink

        link: PortLink = JunctekSimPortLink.from_config(battery)
    else:
        explicit = "baudrate" in battery.model_fields_set
        port = battery.port or serial_port(battery.address)
        link = SerialLink(port, battery.baudrate if explicit else BAUDRATE)
    return JunctekSource(battery.name, link, options, stale_after_s=float(battery.timeout))
