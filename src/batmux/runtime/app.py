"""The gateway: sample every battery, average and meter, publish to the hub, run the sinks.

    sources ──sample()──▶ calibrate ▶ plausibility ▶ meters ─┐
                                                           pending samples
    every publish_period: average ▶ BatteryState ▶ (banks/limits) ▶ StateHub ▶ sinks

Every long-running piece is a task in one TaskGroup; sinks run under a supervisor that restarts
them with backoff, and one failing device never delays another.

A battery that turns fresh (its first good sample, or back after an outage) or whose source says
its data is gone is published within ``EARLY_PUBLISH_S`` instead of at the next period, so the
first data and the safe state reach every sink fast. Published energy meters are the ones
already on disk (``persist_meters``): a crash can only lose what was never published, so a
total never goes backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batmux.config import BatteryConfig, Config
from batmux.core import meters as meter_math
from batmux.core.averaging import average
from batmux.core.bank import DEFAULT_LIMITS
from batmux.core.inject import Injector
from batmux.core.inject import apply as apply_fault
from batmux.core.plausibility import calibrate, check_plausible, remember_plausible
from batmux.core.statefile import load_json, remove_stale_temps, save_json_atomic
from batmux.devices.health import Health
from batmux.devices.source import Source
from batmux.errors import BatmuxError, ControlRefused, ImplausibleSample, NoData, SourceOffline
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.runtime.commands import SwitchCommands
from batmux.runtime.describe import startup_lines
from batmux.runtime.hub import StateHub
from batmux.runtime.sources import build_source
from batmux.runtime.supervise import supervised

log = logging.getLogger(__name__)

# Meters and bank state go to disk at most this often (and always on shutdown): each save is
# an fsync per battery, which at hundreds of batteries costs more than the rest of a publish.
# (What is published never goes back after a kill -9: see ``persist_meters``.)
SAVE_PERIOD_S = 10.0
# A battery turned fresh or its data is gone: publish this soon (other batteries' first samples
# of the same start-up round are gathered into the same publish).
EARLY_PUBLISH_S = 0.2
# The totals of every battery as last published (written before a publish, see
# ``persist_meters``); the per-battery files are the periodic full save.
PUBLISHED_METERS = "published.totals.json"  # no battery name has a dot
# Published totals move on at most this often: each move is a thread hand-off, a file write
# and two fsyncs, a large part of the gateway's CPU at one battery. Energy dashboards keep
# hourly statistics, so a total that lags the meter by up to this much loses nothing.
TOTALS_PERIOD_S = 10.0

SinkFactory = Callable[["Gateway"], Awaitable[None]]
StateProcessor = Callable[[list[BatteryState], float], list[BatteryState]]
SwitchListener = Callable[[str, str, bool], Awaitable[None]]
SWITCH_NAMES = ("charge", "discharge", "contactor")


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
    offline: bool = False  # the source says its data is gone (``SourceOffline``)
    published_fresh: bool = False  # the last published state was available and fresh
    saved_meters: Meters = field(default_factory=Meters)  # the meters last saved: published

    @property
    def stale_after(self) -> float:
        """The bank's freshness bound for this battery (its limits' ``stale_after``)."""
        return (self.cfg.limits or DEFAULT_LIMITS).stale_after

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
        # name → seconds since that inverter link last heard its inverter (EV contactors)
        self.inverter_silence: dict[str, Callable[[], float]] = {}
        self.state_dir = Path(config.state_dir)
        sources = sources or {}
        self.batteries: dict[str, BatteryRuntime] = {}
        remove_stale_temps(self.state_dir)  # writes a kill -9 cut short
        published = load_json(self._published_meters_path(), {})
        for cfg in config.batteries:
            source = sources.get(cfg.name) or build_source(cfg, config, {"gateway": self})
            runtime = BatteryRuntime(cfg, source)
            runtime.meters = self._load_meters(cfg.name, published)
            runtime.saved_meters = runtime.meters.meters()
            self.batteries[cfg.name] = runtime
        self._persist_failed = False
        # The totals a restart would load now: a publish of these needs no write (the first
        # one after start, and every one while no current flows) and waits for no fsync.
        self._on_disk = self._meter_snapshot()
        self._totals_written_at = float("-inf")  # the loop's clock at the last totals write
        self._wake = asyncio.Event()  # a battery turned fresh or went offline: publish early
        self.capture_dir: str | None = None  # ``batmux run --capture DIR``
        self.config_dir: Path | None = None  # the config file's folder (netzero LUT files)
        self.injector = Injector()  # commissioning faults (``allow_inject``), see core/inject
        # One queue for every switch write (MQTT, web, the charge-switch algorithm): the latest
        # wish per switch wins and writes to one BMS are spaced (runtime/commands.py).
        controlled = [n for n, r in self.batteries.items() if r.cfg.allow_control]
        self.switches = SwitchCommands(controlled, self._write_switch, self._switch_written)
        # called after each successful write (the MQTT sink shows the new state at once)
        self.switch_listeners: list[SwitchListener] = []

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

    def _published_meters_path(self) -> Path:
        return self.state_dir / "meters" / PUBLISHED_METERS

    def _load_meters(self, name: str, published: Any) -> meter_math.MeterState:
        """The higher of each counter in the battery's file and the last published totals."""
        own = meter_math.MeterState.from_json(load_json(self._meter_path(name)))
        meters = published.get("meters") if isinstance(published, dict) else None
        entry = meters.get(name) if isinstance(meters, dict) else None
        keys = ("charged_wh", "discharged_wh", "soc_travel_pct")
        fields = dict(zip(keys, entry, strict=False)) if isinstance(entry, list) else None
        last = meter_math.MeterState.from_json(fields)
        own.charged_wh = max(own.charged_wh, last.charged_wh)
        own.discharged_wh = max(own.discharged_wh, last.discharged_wh)
        own.soc_travel_pct = max(own.soc_travel_pct, last.soc_travel_pct)
        return own

    # -- sampling ----------------------------------------------------------------------------
    async def sample_once(self, runtime: BatteryRuntime) -> bool:
        cfg = runtime.cfg
        try:
            async with asyncio.timeout(cfg.timeout * 2 + 1):
                sample = await runtime.source.sample()
            if self.injector.get(cfg.name) is not None:
                injected = self._inject(cfg.name, sample)
                if injected is None:  # an injected "stale": dropped, not a device failure
                    return False
                sample = injected
            sample = calibrate(sample, cfg.current_calibration, cfg.invert_current)
            check_plausible(sample)
        except (BatmuxError, TimeoutError) as exc:
            runtime.failed_rounds += 1
            if isinstance(exc, SourceOffline) and not runtime.offline:
                runtime.offline = True
                self._wake.set()  # the safe state goes out now, not at the next period
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
            remember_plausible(sample)  # checked above; the bank engine checks it again
        elif getattr(runtime.source, "measured_timestamps", False):
            now = min(now, sample.timestamp)  # a relayed sample is as fresh as its measurement
        runtime.offline = False
        if not runtime.published_fresh and self.clock() - now <= runtime.stale_after:
            self._wake.set()  # first fresh data (or back after an outage): publish it now
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

    def inject_allowed(self, name: str) -> bool:
        """``allow_inject`` on the battery or at the top level."""
        return self.config.allow_inject or self.batteries[name].cfg.allow_inject

    def inject(self, name: str, fault: str, for_s: float | None = None) -> None:
        """Start (or ``clear``) an injected fault; ``ControlRefused`` unless allowed."""
        if name not in self.batteries:
            raise ControlRefused(f"{name}: no such battery")
        if not self.inject_allowed(name):
            raise ControlRefused(f"{name}: fault injection is off (set allow_inject: true)")
        self.injector.set(name, fault, self.clock(), for_s)
        span = f" for {for_s:g} s" if for_s is not None and fault != "clear" else ""
        log.warning("%s: fault injection: %s%s", name, fault, span)
        self._wake.set()  # publish the faulted (or cleared) state now

    def _inject(self, name: str, sample: BatterySample) -> BatterySample | None:
        injection = self.injector.active(name, self.clock())
        if injection is None:  # its time ran out
            log.warning("%s: fault injection ended (its time ran out)", name)
            return sample
        return apply_fault(sample, injection.fault)

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
                and not runtime.offline
            )
            age = now - runtime.last_good_at
            runtime.published_fresh = available and age <= runtime.stale_after
            states.append(
                BatteryState(
                    name=name,
                    available=available,
                    sample=runtime.last_published,
                    meters=runtime.saved_meters,
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

    def _meter_snapshot(self) -> dict[str, list[float]]:
        return {
            name: [r.meters.charged_wh, r.meters.discharged_wh, r.meters.soc_travel_pct]
            for name, r in self.batteries.items()
        }

    async def persist_meters(self, now: float | None = None) -> None:
        """Write the meters about to be published to disk first (one file, one fsync).

        Only totals that reached the disk are published, so a restart (which loads them) can
        never show a lower total than one already published: Home Assistant's
        ``total_increasing`` sees no decrease across any crash or power loss. The totals move
        on at most every ``TOTALS_PERIOD_S`` (``now`` is the loop's clock; None: write now if
        they changed); in between, the last saved ones are published again."""
        if now is not None and now - self._totals_written_at < TOTALS_PERIOD_S:
            return
        snapshot = self._meter_snapshot()
        if not snapshot or snapshot == self._on_disk:
            return
        data = {"version": 1, "meters": snapshot}  # lists: a quarter of the CPU of dicts
        try:
            await asyncio.to_thread(save_json_atomic, self._published_meters_path(), data)
        except OSError as exc:  # keep publishing the totals that are on disk
            if not self._persist_failed:
                log.error("cannot save meters: %s; published totals stay as saved", exc)
            self._persist_failed = True
            return
        self._persist_failed = False
        self._on_disk = snapshot
        self._totals_written_at = time.monotonic() if now is None else now
        for name, (charged, discharged, travel) in snapshot.items():
            saved = meter_math.MeterState(charged, discharged, travel)
            self.batteries[name].saved_meters = saved.meters()

    async def _publish_loop(self) -> None:
        last_save = float("-inf")
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.config.publish_period
        while True:
            # Absolute deadlines: the work below must not stretch the publish period.
            await self._wait_publish(next_at)
            if loop.time() >= next_at:  # a regular publish (an early one keeps the schedule)
                next_at = max(next_at + self.config.publish_period, loop.time())
            self._wake.clear()
            await self.persist_meters(loop.time())
            self.publish_now()
            now = loop.time()
            if now - last_save >= SAVE_PERIOD_S:
                last_save = now
                await asyncio.to_thread(self.save_meters)
            self._apply_switch_wishes()

    async def _wait_publish(self, deadline: float) -> None:
        """Until ``deadline``, or ``EARLY_PUBLISH_S`` after a battery turned fresh or offline."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._wake.wait()
                await asyncio.sleep(EARLY_PUBLISH_S)

    def _apply_switch_wishes(self) -> None:
        """The charge-switch algorithm's wishes, queued only where control is allowed."""
        wishes = dict(self.bank.switch_actions) if self.bank is not None else {}
        origins = dict(self.bank.switch_origin) if self.bank is not None else {}
        for name, on in wishes.items():
            if name not in self.switches.batteries:
                continue
            by = f"group {origins[name]}'s" if name in origins else "its"
            self.submit_switch(name, "charge", on, f"{by} charge-switch algorithm")

    # -- control -----------------------------------------------------------------------------
    def submit_switch(
        self,
        name: str,
        switch: str,
        on: bool,
        reason: str | None = None,
        waiter: asyncio.Future[bool] | None = None,
    ) -> None:
        """Queue a switch wish (never waits for the BMS); ``ControlRefused`` unless the battery
        sets ``allow_control`` and has that switch. The write, its result and the wishes it
        replaced are logged by ``SwitchCommands``; ``reason`` is logged here. ``waiter`` gets
        the written value or the write's error."""
        if name not in self.switches.batteries:
            raise ControlRefused(f"{name}: no such battery with allow_control")
        if switch not in SWITCH_NAMES:
            raise ControlRefused(f"{name}: no {switch!r} switch")
        if reason is not None:
            log.info("%s: %s switch %s (%s)", name, switch, on, reason)
        self.switches.submit(name, switch, on, waiter)

    async def request_switch(self, name: str, switch: str, on: bool, reason: str) -> bool:
        """``submit_switch`` and wait for the write that carries it (spaced like every other
        wish): the value written, or the write's error (``TimeoutError`` past the battery's
        ``timeout``)."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.submit_switch(name, switch, on, reason, waiter)
        return await waiter

    async def set_switch(self, name: str, switch: str, on: bool) -> None:
        """Write a switch now, bypassing the queue (``submit_switch`` is the spaced way)."""
        runtime = self.batteries[name]
        if not runtime.cfg.allow_control:
            raise ControlRefused(f"{name}: allow_control is not set")
        await runtime.source.set_switch(switch, on)

    async def _write_switch(self, name: str, switch: str, on: bool) -> None:
        async with asyncio.timeout(self.batteries[name].cfg.timeout):
            await self.set_switch(name, switch, on)

    async def _switch_written(self, name: str, switch: str, on: bool) -> None:
        for listener in list(self.switch_listeners):
            try:
                await listener(name, switch, on)
            except Exception:  # a sink's bug must not stop the writer of every battery
                log.exception("%s: %s switch listener failed", name, switch)

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
        for line in startup_lines(self.config):
            log.info("%s", line)
        try:
            async with asyncio.TaskGroup() as tg:
                if self.config.concurrent_sampling:
                    for runtime in self.batteries.values():
                        tg.create_task(self._sample_loop_one(runtime), name=runtime.cfg.name)
                else:
                    tg.create_task(self._sample_loop_serial(), name="sampling")
                tg.create_task(self._publish_loop(), name="publish")
                tg.create_task(self.switches.run(), name="switch-commands")
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
            if self.config.bluetooth_proxies:  # their API sessions, after the links on them
                from batmux.runtime.proxies import close_proxies

                await asyncio.shield(close_proxies(self.config))
