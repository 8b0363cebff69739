"""A BLE battery as a ``Source``: owns the connection policy around a driver.

keep_alive: stay connected between samples; otherwise connect, read, disconnect each time.
After a failure the next attempts back off exponentially with jitter, so a dead device costs
almost nothing while the others keep their rhythm. A connection that delivers no frame for
``stuck_after`` sample periods is torn down and rebuilt.
"""

from __future__ import annotations

import logging
import random
import time

from batmux.devices.ble_driver import BleDriver
from batmux.devices.health import Health
from batmux.errors import BatmuxError, LinkError, LinkTimeout, NoData, ProtocolError
from batmux.model.sample import BatterySample

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with full jitter: 1 s, 2 s, 4 s ... capped."""

    def __init__(self, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()
        self.not_before = 0.0

    def fail(self, now: float) -> float:
        self.failures += 1
        delay = min(self.cap_s, self.base_s * 2 ** (self.failures - 1))
        delay = delay / 2 + self._rng.uniform(0, delay / 2)
        self.not_before = now + delay
        return delay

    def ok(self) -> None:
        self.failures = 0
        self.not_before = 0.0


class BleSource:
    """Samples one BLE BMS through its driver with reconnects and health counters."""

    def __init__(
        self,
        name: str,
        driver: BleDriver,
        keep_alive: bool = True,
        timeout_s: float = 10.0,
        sample_period_s: float = 1.0,
        stuck_after_periods: int = 10,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.driver = driver
        self.keep_alive = keep_alive
        self.timeout_s = timeout_s
        self.sample_period_s = sample_period_s
        self.stuck_after_periods = stuck_after_periods
        self.health = Health()
        self.backoff = backoff or Backoff()
        self._last_corrupt = 0

    async def _ensure_connected(self) -> None:
        link = self.driver.link
        if link.is_connected:
            return
        await link.connect(timeout=self.timeout_s)
        self.health.connects += 1
        await self.driver.start()

    def _is_stuck(self) -> bool:
        last = self.driver.last_frame_at
        limit = self.stuck_after_periods * self.sample_period_s
        return bool(last) and time.monotonic() - last > limit

    async def sample(self) -> BatterySample:
        now = time.monotonic()
        if now < self.backoff.not_before:
            raise NoData(f"backing off after {self.backoff.failures} failures")
        try:
            if self.keep_alive and self.driver.link.is_connected and self._is_stuck():
                self.health.drops += 1
                log.warning(
                    "%s: no frame for %d periods, reconnecting", self.name, self.stuck_after_periods
                )
                await self.driver.link.disconnect()
            await self._ensure_connected()
            sample = await self.driver.read_sample(self.timeout_s)
        except BatmuxError as exc:
            self._count(exc)
            self.backoff.fail(time.monotonic())
            await self.driver.link.disconnect()
            raise
        finally:
            self._sync_corrupt()
            if not self.keep_alive:
                await self.driver.link.disconnect()
        self.backoff.ok()
        self.health.samples += 1
        return sample

    def _count(self, exc: BatmuxError) -> None:
        if isinstance(exc, LinkTimeout):
            self.health.timeouts += 1
        elif isinstance(exc, LinkError) and self.driver.link is not None:
            self.health.drops += 1
        self.health.error(f"{type(exc).__name__}: {exc}")

    def _sync_corrupt(self) -> None:
        corrupt = self.driver.codec.corrupt_frames
        if corrupt != self._last_corrupt:
            self.health.corrupt_frames += corrupt - self._last_corrupt
            self._last_corrupt = corrupt
            if isinstance(self.driver.codec.last_error, ProtocolError):
                self.health.last_error = f"corrupt frame: {self.driver.codec.last_error}"

    async def set_switch(self, switch: str, on: bool) -> None:
        await self._ensure_connected()
        await self.driver.set_switch(switch, on)

    async def close(self) -> None:
        await self.driver.link.disconnect()
