"""A BLE battery as a ``Source``: owns the connection policy around a driver.

keep_alive: stay connected between samples; otherwise connect, read, disconnect each time.
Every call is bounded (connect ≤ timeout, read ≤ timeout), so one dead battery never holds up
the others. After a failure the next attempts back off exponentially with jitter: a dead
device costs almost nothing while the others keep their rhythm. A read races the link's
``lost`` event (if the link has one), so a drop mid-frame fails the sample at once instead of
at the read timeout. A connection that delivers no frame for ``stuck_after_periods`` sample
periods is torn down and rebuilt. Optionally, after ``power_cycle_after`` consecutive failures
the adapter is powered off and on (at most once per ``power_cycle_interval_s``).

When the host's Bluetooth stack itself is missing (``BluetoothUnavailable``: no system D-Bus,
no bluetoothd, no such adapter, no permission) the battery is unavailable, not broken: the
first battery to meet a cause logs it once (``BluetoothStatus``), retries back off to at most
``unavailable_retry_s``, the sample fails as ``NoData`` (the gateway logs that only at DEBUG),
and the last battery to recover says that Bluetooth is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import ClassVar

from batmux.devices.ble_driver import BleDriver
from batmux.devices.health import Health
from batmux.errors import (
    BatmuxError,
    ImplausibleSample,
    LinkError,
    LinkTimeout,
    NoData,
    ProtocolError,
)
from batmux.links.ble import BluetoothUnavailable
from batmux.links.link_lost import LinkLost
from batmux.model.sample import BatterySample

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped; each delay in [d/2, d]."""

    def __init__(self, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()
        self.not_before = 0.0

    def fail(self, now: float) -> float:
        self.failures += 1
        delay = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 30))
        delay = delay / 2 + self._rng.uniform(0, delay / 2)
        self.not_before = now + delay
        return delay

    def ok(self) -> None:
        self.failures = 0
        self.not_before = 0.0


class BluetoothStatus:
    """Which batteries wait for which missing piece of the Bluetooth stack, so each cause is
    logged once however many batteries meet it and however often they retry."""

    _instances: ClassVar[dict[int, BluetoothStatus]] = {}

    def __init__(self) -> None:
        self.waiting: dict[str, set[str]] = {}  # cause → battery names
        self.since: dict[str, float] = {}

    @classmethod
    def get(cls) -> BluetoothStatus:
        """The status of the running event loop (one gateway)."""
        key = id(asyncio.get_running_loop())
        if key not in cls._instances:
            cls._instances = {key: cls()}  # an older loop's status is of no use any more
        return cls._instances[key]

    def unavailable(self, name: str, exc: BluetoothUnavailable, retry_s: float) -> None:
        self.recovered(name, still_missing=exc.cause)
        holders = self.waiting.setdefault(exc.cause, set())
        if not holders:
            self.since[exc.cause] = time.monotonic()
            log.warning(
                "Bluetooth unavailable (%s and any other BLE battery that needs it): %s; "
                "retrying every %.0f s at most, the batteries come back by themselves",
                name,
                exc,
                retry_s,
            )
        else:
            log.debug("%s: Bluetooth unavailable too: %s", name, exc)
        holders.add(name)

    def recovered(self, name: str, still_missing: str | None = None) -> None:
        """``name`` waits for nothing any more (or only for ``still_missing``, a new cause)."""
        for cause, holders in list(self.waiting.items()):
            if name not in holders or cause == still_missing:
                continue
            holders.discard(name)
            if not holders:
                del self.waiting[cause]
                took = time.monotonic() - self.since.pop(cause, time.monotonic())
                if still_missing is None:
                    log.info("Bluetooth is back (%s) after %.0f s", cause, took)


class _Lost(LinkError):
    """The connection dropped while we were using it."""


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
        power_cycle_after: int = 0,
        power_cycle_interval_s: float = 600.0,
        unavailable_retry_s: float = 5.0,
    ) -> None:
        self.name = name
        self.driver = driver
        self.keep_alive = keep_alive
        self.timeout_s = timeout_s
        self.sample_period_s = sample_period_s
        self.stuck_after_periods = stuck_after_periods
        self.health = Health()
        self.backoff = backoff or Backoff()
        self.power_cycle_after = power_cycle_after
        self.power_cycle_interval_s = power_cycle_interval_s
        self.power_cycles = 0
        self.unavailable_retry_s = unavailable_retry_s  # retry cap while BlueZ is missing
        self.unavailable: BluetoothUnavailable | None = None  # why Bluetooth is missing now
        self._last_power_cycle = -power_cycle_interval_s
        self._last_corrupt = 0
        self._up = False  # we hold a connection we believe in
        self._up_since = 0.0

    # -- connection ---------------------------------------------------------------------------
    async def _ensure_connected(self) -> None:
        link = self.driver.link
        if self._up and not link.is_connected:
            self._up = False
            self.health.drops += 1
            log.warning("%s: connection lost between samples", self.name)
        if link.is_connected:
            return
        await link.connect(timeout=self.timeout_s)
        self.health.connects += 1
        self._up = True
        self._up_since = time.monotonic()
        try:
            await self.driver.start()
        except BatmuxError:
            await self._teardown()
            raise

    async def _teardown(self) -> None:
        self._up = False
        with contextlib.suppress(BatmuxError):
            await self.driver.link.disconnect()

    def _is_stuck(self) -> bool:
        last = max(self.driver.last_frame_at, self._up_since)
        return time.monotonic() - last > self.stuck_after_periods * self.sample_period_s

    async def _read(self) -> BatterySample:
        """``read_sample``, failed at once if the link reports that it dropped."""
        lost: LinkLost | None = getattr(self.driver.link, "lost", None)
        if lost is None:
            return await self.driver.read_sample(self.timeout_s)
        if lost.is_set():
            raise _Lost("connection lost")
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        before = task.cancelling()
        reading = dropped = False

        def cancel_read() -> None:
            # From the loop, never from inside the link's own call: then the task is
            # suspended in the read and the cancel lands there, not after the read returned.
            nonlocal dropped
            if reading:
                dropped = True
                task.cancel()

        def on_lost() -> None:
            loop.call_soon(cancel_read)

        lost.listeners.append(on_lost)
        reading = True
        try:
            sample = await self.driver.read_sample(self.timeout_s)
        except asyncio.CancelledError:
            if dropped and task.uncancel() <= before:
                raise _Lost("connection lost during the read") from None
            raise
        finally:
            reading = False
            lost.listeners.remove(on_lost)
        if dropped:  # the read swallowed our cancel
            task.uncancel()
            raise _Lost("connection lost during the read")
        return sample

    # -- the Source contract ------------------------------------------------------------------
    async def sample(self) -> BatterySample:
        now = time.monotonic()
        if now < self.backoff.not_before:
            raise NoData(f"backing off after {self.backoff.failures} failures")
        try:
            if self._up and self.driver.link.is_connected and self._is_stuck():
                self.health.drops += 1
                self.health.error(f"stuck: no frame for {self.stuck_after_periods} periods")
                log.warning(
                    "%s: no frame for %d periods, reconnecting", self.name, self.stuck_after_periods
                )
                await self._teardown()
            await self._ensure_connected()
            sample = await self._read()
        except ImplausibleSample:
            # the link works and the frame checked out: no backoff, no reconnect; the runtime
            # counts it as implausible
            self.backoff.ok()
            raise
        except BluetoothUnavailable as exc:
            await self._bluetooth_missing(exc)
            raise NoData(f"Bluetooth unavailable: {exc}") from exc
        except BatmuxError as exc:
            await self._failed(exc)
            raise
        finally:
            self._sync_corrupt()
            if not self.keep_alive:
                await self._teardown()
        self.backoff.ok()
        self.health.samples += 1
        path = getattr(self.driver.link, "path", None)
        if path is not None:  # proxy and ``adapter: auto`` links say where they are
            self.health.ble_path = path
            self.health.ble_rssi = getattr(self.driver.link, "rssi", None)
        if self.unavailable is not None:
            self.unavailable = None
            BluetoothStatus.get().recovered(self.name)
        return sample

    async def _bluetooth_missing(self, exc: BluetoothUnavailable) -> None:
        """Not this battery's fault: no power cycle, no per-retry log line, a short backoff."""
        if self._up:
            self.health.drops += 1
        await self._teardown()
        self.health.error(f"Bluetooth unavailable: {exc}")
        now = time.monotonic()
        delay = min(self.backoff.fail(now), self.unavailable_retry_s)
        self.backoff.not_before = now + delay
        if self.unavailable is None or self.unavailable.cause != exc.cause:
            BluetoothStatus.get().unavailable(self.name, exc, self.unavailable_retry_s)
        self.unavailable = exc

    async def _failed(self, exc: BatmuxError) -> None:
        if isinstance(exc, LinkTimeout):
            self.health.timeouts += 1  # a silent device keeps its link; the stuck check decides
        elif isinstance(exc, LinkError):
            if self._up:  # lost while in use (not a failed connect)
                self.health.drops += 1
            await self._teardown()
        self.health.error(f"{type(exc).__name__}: {exc}")
        delay = self.backoff.fail(time.monotonic())
        log.info("%s: %s; next try in %.1f s", self.name, exc, delay)
        await self._maybe_power_cycle()

    async def _maybe_power_cycle(self) -> None:
        if not self.power_cycle_after or self.backoff.failures < self.power_cycle_after:
            return
        now = time.monotonic()
        cycle = getattr(self.driver.link, "power_cycle", None)
        if cycle is None or now - self._last_power_cycle < self.power_cycle_interval_s:
            return
        self._last_power_cycle = now
        self.power_cycles += 1
        self._up = False
        log.warning(
            "%s: %d failures in a row, power-cycling the adapter", self.name, self.backoff.failures
        )
        try:
            await cycle()
        except BatmuxError as exc:
            self.health.error(f"adapter power cycle failed: {exc}")

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
        await self._teardown()
