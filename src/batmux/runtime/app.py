"""The gateway: sample every battery, average and meter, publish to the hub, run the sinks.

    sources ──sample()──▶ calibrate ▶ plausibility ▶ meters ─┐
                                                           pending samples
    every publish_period: average ▶ BatteryState ▶ (banks/limits) ▶ StateHub ▶ sinks

Every long-running piece is a task in one TaskGroup; sinks run under a supervisor that restarts
them with backoff, and one failing device never delays another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batmux.config import BatteryConfig, Config
from batmux.core import meters as meter_math
from batmux.core.averaging import average
from batmux.core.plausibility import calibrate, check_plausible
from batmux.core.statefile import load_json, save_json_atomic
from batmux.devices.health import Health
from batmux.devices.source import Source
from batmux.errors import BatmuxError, ControlRefused, ImplausibleSample, NoData
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.runtime.hub import StateHub
from batmux.runtime.sources import build_source
from batmux.runtime.supervise import supervised

log = logging.getLogger(__name__)

# Meters and bank state go to disk at most this often (and always on shutdown): each save is
# an fsync per battery, which at hundreds of batteries costs more than the rest of a publish.
# A kill -9 loses at most this much metering.
SAVE_PERIOD_S = 10.0

SinkFactory = Callable[["Gateway"], Awaitable[None]]
StateProcessor = Callable[[list[BatteryState], float], list[BatteryState]]


class WatchdogExpired(BatmuxError):
    """Every device failed for too long; exit non-zero so a supervisor restarts us."""


@dataclass
class BatteryRuntime:
    cfg: BatteryConfig
    source: Source
    meters: meter_math.MeterState = field(default_factory=meter_math.MeterState)
    pending: list[BatterySample] = field(default_factory=list)
    last_published: BatterySample | None = None
    last_good_at: float = 0.0
    last_error_log: float = 0.0
    failed_rounds: int = 0

    @property
    def health(self) -> Health:
        return self.source.health


class Gateway:
    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        sources: dict[str, Source] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.hub = StateHub()
        self.sinks: list[tuple[str, SinkFactory]] = []
        self.processors: list[StateProcessor] = []
        self.bank: Any = None  # the BankEngine, when wired (charge-switch wishes, state files)
        # name → a sink's own state-file writer, run with the meters (same period, on shutdown)
        self.savers: dict[str, Callable[[], None]] = {}
        # name → status() of each inverter link, published as its own MQTT/HA device
        self.link_status: dict[str, Callable[[], dict[str, Any]]] = {}
        self.state_dir = Path(config.state_dir)
        sources = sources or {}
        self.batteries: dict[str, BatteryRuntime] = {}
        for cfg in config.batteries:
            source = sources.get(cfg.name) or build_source(cfg, config, {"gateway": self})
            runtime = BatteryRuntime(cfg, source)
            runtime.meters = meter_math.MeterState.from_json(load_json(self._meter_path(cfg.name)))
            self.batteries[cfg.name] = runtime
        self.capture_dir: str | None = None  # ``batmux run --capture DIR``

    # -- wiring ------------------------------------------------------------------------------
    def add_sink(self, name: str, factory: SinkFactory) -> None:
        self.sinks.append((name, factory))

    def add_processor(self, processor: StateProcessor) -> None:
        """Runs on every publish with all battery states; returns them plus/with derived ones."""
        self.processors.append(processor)

    def add_saver(self, name: str, save: Callable[[], None]) -> None:
        """Run ``save`` (may raise OSError) with every meter save; a new one replaces ``name``.

        Like the meters, ``save`` runs in a worker thread while the gateway runs (and on the
        loop at shutdown): it must only read the state it writes, never change it."""
        self.savers[name] = save

    def _meter_path(self, name: str) -> Path:
        return self.state_dir / "meters" / f"{name}.json"

    # -- sampling ----------------------------------------------------------------------------
    async def sample_once(self, runtime: BatteryRuntime) -> bool:
        cfg = runtime.cfg
        try:
            async with asyncio.timeout(cfg.timeout * 2 + 1):
                sample = await runtime.source.sample()
            sample = calibrate(sample, cfg.current_calibration, cfg.invert_current)
            check_plausible(sample)
        except (BatmuxError, TimeoutError) as exc:
            runtime.failed_rounds += 1
            if isinstance(exc, ImplausibleSample):
                runtime.health.implausible += 1
                runtime.health.error(f"implausible: {exc}")
            elif isinstance(exc, TimeoutError) and not isinstance(exc, BatmuxError):
                runtime.health.timeouts += 1
                runtime.health.error("sample timed out")
            self._log_failure(runtime, exc)
            return False
        now = self.clock()
        if sample.timestamp <= 0:
            sample = sample.with_(timestamp=now)
        runtime.failed_rounds = 0
        runtime.pending.append(sample)
        runtime.last_good_at = now
        refused = meter_math.update(
            runtime.meters, sample, max_gap_s=max(60.0, 5 * self.config.sample_period)
        )
        if refused is not None:
            runtime.health.error(refused)
            log.warning("%s: %s", cfg.name, refused)
        if cfg.debug:
            log.info("%s: %s", cfg.name, sample.to_json())
        return True

    def _log_failure(self, runtime: BatteryRuntime, exc: BaseException) -> None:
        # At most one log line a minute per device: a dead device must not flood the log.
        now = self.clock()
        level = logging.DEBUG if isinstance(exc, NoData) else logging.WARNING
        if now - runtime.last_error_log >= 60 or runtime.cfg.debug:
            runtime.last_error_log = now
            log.log(level, "%s: %s: %s", runtime.cfg.name, type(exc).__name__, exc)

    async def _sample_loop_one(self, runtime: BatteryRuntime) -> None:
        period = self.config.sample_period
        next_at = asyncio.get_running_loop().time()
        while True:
            await self.sample_once(runtime)
            next_at += period
            delay = next_at - asyncio.get_running_loop().time()
            if delay < 0:  # fell behind (slow device): skip missed slots instead of bursting
                next_at = asyncio.get_running_loop().time()
                delay = 0
            await asyncio.sleep(delay)

    async def _sample_loop_serial(self) -> None:
        period = self.config.sample_period
        while True:
            started = asyncio.get_running_loop().time()
            for runtime in self.batteries.values():
                await self.sample_once(runtime)
            await asyncio.sleep(max(0.0, period - (asyncio.get_running_loop().time() - started)))

    async def _watchdog_loop(self) -> None:
        limit = self.config.watchdog_rounds
        while True:
            await asyncio.sleep(self.config.sample_period)
            if self.batteries and all(r.failed_rounds >= limit for r in self.batteries.values()):
                raise WatchdogExpired(f"every device failed {limit} times in a row")

    # -- publishing --------------------------------------------------------------------------
    def build_states(self) -> list[BatteryState]:
        now = self.clock()
        states = []
        for name, runtime in self.batteries.items():
            if runtime.pending:
                runtime.last_published = average(runtime.pending)
                runtime.pending = []
            available = (
                runtime.last_published is not None
                and now - runtime.last_good_at < self.config.expire_after
            )
            states.append(
                BatteryState(
                    name=name,
                    available=available,
                    sample=runtime.last_published,
                    meters=runtime.meters.meters(),
                    last_good_at=runtime.last_good_at,
                    diagnostics=runtime.health.to_json(),
                )
            )
        for processor in self.processors:
            states = processor(states, now)
        return states

    def publish_now(self) -> list[BatteryState]:
        states = self.build_states()
        self.hub.publish(states)
        return states

    def publish_now_map(self) -> dict[str, BatteryState]:
        return {state.name: state for state in self.publish_now()}

    def save_meters(self) -> None:
        """Persist meters and bank state (coulomb counters, charge-switch state) atomically."""
        for name, runtime in self.batteries.items():
            try:
                save_json_atomic(self._meter_path(name), runtime.meters.to_json())
            except OSError as exc:
                log.error("%s: cannot save meters: %s", name, exc)
        if self.bank is not None:
            try:
                self.bank.save_state(self.config.state_dir)
            except OSError as exc:
                log.error("cannot save bank state: %s", exc)
        for name, save in list(self.savers.items()):
            try:
                save()
            except OSError as exc:
                log.error("%s: cannot save state: %s", name, exc)

    async def _publish_loop(self) -> None:
        last_save = float("-inf")
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            # Absolute deadlines: the work below must not stretch the publish period.
            next_at = max(next_at + self.config.publish_period, loop.time())
            await asyncio.sleep(next_at - loop.time())
            self.publish_now()
            now = loop.time()
            if now - last_save >= SAVE_PERIOD_S:
                last_save = now
                await asyncio.to_thread(self.save_meters)
            await self._apply_switch_wishes()

    async def _apply_switch_wishes(self) -> None:
        """The charge-switch algorithm's wishes, sent only where control is allowed."""
        wishes = dict(self.bank.switch_actions) if self.bank is not None else {}
        origins = dict(self.bank.switch_origin) if self.bank is not None else {}
        for name, on in wishes.items():
            runtime = self.batteries.get(name)
            if runtime is None or not runtime.cfg.allow_control:
                continue
            by = f"group {origins[name]}'s" if name in origins else "its"
            try:
                async with asyncio.timeout(runtime.cfg.timeout):
                    await runtime.source.set_switch("charge", on)
                log.info("%s: charge switch %s (%s charge-switch algorithm)", name, on, by)
            except (BatmuxError, TimeoutError) as exc:
                log.warning("%s: charge switch: %s", name, exc)

    # -- control -----------------------------------------------------------------------------
    async def set_switch(self, name: str, switch: str, on: bool) -> None:
        runtime = self.batteries[name]
        if not runtime.cfg.allow_control:
            raise ControlRefused(f"{name}: allow_control is not set")
        await runtime.source.set_switch(switch, on)

    def write_captures(self, directory: str) -> list[Path]:
        """Each device's ring buffer of recent frames, for attaching to a bug report."""
        from batmux.devices.capture import write_capture

        paths = []
        for name, runtime in self.batteries.items():
            ring = getattr(runtime.source, "capture", None)
            if ring is not None and len(ring):
                paths.append(write_capture(directory, name, ring, protocol=runtime.cfg.type))
                log.warning("%s: wrote frame capture %s", name, paths[-1])
        return paths

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, extra: list[Awaitable[Any]] | None = None) -> None:
        """Run until cancelled (or the watchdog fires). Meters are saved on the way out."""
        try:
            async with asyncio.TaskGroup() as tg:
                if self.config.concurrent_sampling:
                    for runtime in self.batteries.values():
                        tg.create_task(self._sample_loop_one(runtime), name=runtime.cfg.name)
                else:
                    tg.create_task(self._sample_loop_serial(), name="sampling")
                tg.create_task(self._publish_loop(), name="publish")
                if self.config.watchdog:
                    tg.create_task(self._watchdog_loop(), name="watchdog")
                for name, factory in self.sinks:
                    tg.create_task(supervised(name, lambda f=factory: f(self)), name=name)
                for runtime in self.batteries.values():
                    background = getattr(runtime.source, "background", None)
                    if background is not None:  # e.g. an advertisement scanner
                        tg.create_task(supervised(f"{runtime.cfg.name}:background", background))
                for coro in extra or []:
                    tg.create_task(coro)  # type: ignore[arg-type]
        finally:
            self.save_meters()
            if self.capture_dir:
                self.write_captures(self.capture_dir)
            for runtime in self.batteries.values():
                try:
                    await asyncio.shield(runtime.source.close())
                except Exception as exc:  # closing must never mask the original reason
                    log.debug("%s: close: %s", runtime.cfg.name, exc)
