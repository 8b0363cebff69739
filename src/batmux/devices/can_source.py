"""A CAN battery (a real Pylontech or BYD stack, or another emulator) as a ``Source``.

CAN batteries broadcast, so a background reader feeds every frame to the codec and keeps the
newest payload per id; ``sample()`` decodes the frames younger than ``fresh_s`` or raises
``NoData``. The reader starts on the first ``sample()`` and is restarted after a link error.
Nothing is ever sent to the battery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from batmux.devices.health import Health
from batmux.errors import ControlRefused, ImplausibleSample, LinkError, NoData, ProtocolError
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.model.sample import BatterySample
from batmux.protocols.can_codec import CanCodec, can_codec

log = logging.getLogger(__name__)


class CanSource:
    def __init__(
        self,
        name: str,
        codec: CanCodec,
        link: CanLink,
        fresh_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.codec = codec
        self.link = link
        self.fresh_s = fresh_s
        self.health = Health()
        self._clock = clock
        self._wall = wall_clock
        self._latest: dict[Hashable, tuple[bytes, float]] = {}  # id (, mux) → (frame, time)
        self._reader: asyncio.Task[None] | None = None
        self._last_corrupt = 0

    async def _read(self) -> None:
        await self.link.open()
        self.health.connects += 1
        while True:
            frame = await self.link.recv(1.0)
            if frame is None:
                continue
            for packed in self.codec.feed(frame):
                self._latest[self.codec.frame_key(*frame)] = (packed, self._clock())

    def _ensure_reader(self) -> None:
        if self._reader is not None and self._reader.done():
            exc = self._reader.exception() if not self._reader.cancelled() else None
            self._reader = None
            self.health.drops += 1
            if exc is not None:
                self.health.error(f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().create_task(self.link.close())
                raise exc if isinstance(exc, LinkError) else LinkError(str(exc))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name=f"can-source-{self.name}")

    async def sample(self) -> BatterySample:
        self._ensure_reader()
        await asyncio.sleep(0)  # let a just-started reader open the bus
        self._sync_corrupt()
        frames = self._fresh_frames()
        try:
            sample = self.codec.decode(frames, self._wall())
        except ProtocolError as exc:
            if not isinstance(exc, ImplausibleSample):  # the runtime counts those
                self.health.error(f"{type(exc).__name__}: {exc}")
            raise
        self.health.samples += 1
        return sample

    def _fresh_frames(self) -> list[bytes]:
        """The frames young enough to decode; ``NoData`` when there are none."""
        oldest = self._clock() - self.fresh_s
        frames = [packed for packed, at in self._latest.values() if at >= oldest]
        if not frames:
            raise NoData(f"no CAN frame from {self.name} in the last {self.fresh_s:g} s")
        return frames

    def _sync_corrupt(self) -> None:
        corrupt = self.codec.corrupt_frames
        if corrupt != self._last_corrupt:
            self.health.corrupt_frames += corrupt - self._last_corrupt
            self._last_corrupt = corrupt
            self.health.last_error = f"corrupt frame: {self.codec.last_error}"

    def status(self) -> dict[str, object]:
        return {
            **self.health.to_json(),
            "unknown_frames": self.codec.unknown_frames,
            **self.link.status(),
        }

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        await self.link.close()

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused(f"{self.name}: a CAN battery source is read-only")


# A BYD battery sends 0x1D0 (voltage/current) only every 10 s: a 10 s window would drop it.
DEFAULT_FRESH_S = {"byd_can": 25.0}
SIMULATED = ("pylontech_can", "byd_can")


def fresh_s(battery: Any) -> float:
    """``timeout:`` when given, else the type's default freshness window."""
    if "timeout" in battery.model_fields_set:
        return float(battery.timeout)
    return DEFAULT_FRESH_S.get(battery.type, float(getattr(battery, "timeout", 10.0)))


def create_source(battery: Any, context: Any = None) -> CanSource:
    """Registry factory: ``(BatteryConfig, context) -> Source`` for ``pylontech_can``/``byd_can``.

    Uses ``battery.can`` (default socketcan can0 at 500 kbit/s; ``can.log`` writes a candump
    log) and ``battery.timeout`` as the freshness window (byd_can: 25 s unless given).
    ``context`` is unused.
    """
    if _is_simulated(battery):
        return _simulated_source(battery)
    cfg = getattr(battery, "can", None) or CanBusConfig()
    return CanSource(battery.name, can_codec(battery.type), CanLink(cfg), fresh_s=fresh_s(battery))


def _is_simulated(battery: Any) -> bool:
    """Simulated only when asked for (``address: sim`` or ``sim:``) and no real bus is given."""
    asked = battery.sim is not None or "address" in battery.model_fields_set
    return battery.type in SIMULATED and battery.can is None and battery.is_sim and asked


def _simulated_source(battery: Any) -> CanSource:
    """The real CAN source, reading a simulated battery on a private virtual bus.

    Its ``background`` (run by the gateway) opens the source's bus first, so nothing the
    battery sends at start-up is missed, then runs the battery for ``sim.stop_after`` s or
    for ever.
    """
    from batmux.sim.battery import from_sim_config
    from batmux.sim.bms import run_for
    from batmux.sim.can_battery import run_byd_can_battery, run_pylontech_battery

    bus = CanBusConfig(interface="virtual", channel=f"batmux-sim-{battery.name}")
    source = CanSource(battery.name, can_codec(battery.type), CanLink(bus),
                       fresh_s=fresh_s(battery))  # fmt: skip
    simulated = from_sim_config(battery.sim)
    device = run_byd_can_battery if battery.type == "byd_can" else run_pylontech_battery
    stop_after = battery.sim.stop_after if battery.sim is not None else None

    async def background() -> None:
        await source.link.open()
        await run_for(stop_after, device(battery.name, simulated, CanLink(bus)))

    source.background = background  # type: ignore[attr-defined]
    return source
