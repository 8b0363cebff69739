"""Zero export in `batmux run`: meters, devices, the controller loop and its MQTT interface.

The controller ticks every `netzero.period` seconds and at once on each new meter value. Each
tick evaluates the guards, asks the controller for a plan and passes changed wishes to the
devices (each logged with its reason: control is opt-in by configuring `netzero:`). Devices
run their own I/O cycles (netzero/devices, from the device helper's package).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batmux.links.lost_cancel import cancel_count, guarded, reraise_lost_cancel
from batmux.netzero.config import MODES, NetzeroConfig
from batmux.netzero.consumption import MqttConsumption, SumConsumption, build_consumption
from batmux.netzero.controller import Controller, InverterSpec, Plan, Settings, SwitchSpec
from batmux.netzero.guards import BatteryView, Lock, Supervisor
from batmux.netzero.ports import Clock, Inverter, MonotonicClock, Switch
from batmux.netzero.publish import discovery, state_json, topics

if TYPE_CHECKING:
    from batmux.config import MqttConfig
    from batmux.runtime.app import Gateway

log = logging.getLogger(__name__)

STATE_REFRESH_S = 5.0  # the state JSON goes out on every change, and at least this often
STOP_BUDGET_S = 5.0  # on stop, inverters and chargers are switched off within this


class NetzeroRunner:
    """The loop around the pure controller and supervisor (no I/O of its own)."""

    def __init__(
        self,
        cfg: NetzeroConfig,
        *,
        clock: Clock,
        consumption: SumConsumption,
        inverters: Sequence[Inverter],
        switches: Sequence[Switch],
        battery: Callable[[], BatteryView],
        roles: dict[str, str] | None = None,
        mqtt_used: bool = False,
        settings: Settings | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.consumption = consumption
        self.inverters = list(inverters)
        self.switches = list(switches)
        self.battery = battery
        self.roles = {s.name: (roles or {}).get(s.name, "charger") for s in self.switches}
        self.controller = Controller(
            settings or Settings(cfg.target_w, cfg.hysteresis_w, signed=consumption.signed),
            [InverterSpec(i.name, i.max_power_w, i.min_power_w) for i in self.inverters],
            [SwitchSpec(s.name, s.power_w, self.roles[s.name]) for s in self.switches],
            mode=cfg.mode,
        )
        self.supervisor = Supervisor(cfg.guards)
        self.started = clock.now()
        self.mqtt_down_since: float | None = clock.now() if mqtt_used else None
        self.locks: list[Lock] = []
        self.plan: Plan | None = None
        self._sent: dict[str, Any] = {}
        self.wake = asyncio.Event()
        for part in getattr(consumption, "parts", []):
            part.listener = self.wake.set

    @property
    def mode(self) -> str:
        return self.controller.mode

    def set_mode(self, text: str) -> bool:
        mode = text.strip().lower()
        if mode not in MODES:
            log.warning("netzero: ignored mode %r (one of %s)", text[:40], ", ".join(MODES))
            return False
        if mode != self.controller.mode:
            log.info("netzero: mode %s → %s", self.controller.mode, mode)
            self.controller.mode = mode
            self.wake.set()
        return True

    def mqtt_up(self, up: bool) -> None:
        if up:
            self.mqtt_down_since = None
        elif self.mqtt_down_since is None:
            self.mqtt_down_since = self.clock.now()

    def tick(self) -> Plan:
        now = self.clock.now()
        reading = self.consumption.latest()
        meter_age = None if reading is None else now - reading.at
        mqtt_down = None if self.mqtt_down_since is None else now - self.mqtt_down_since
        view = self.battery()
        locks = self.supervisor.evaluate(view, meter_age, mqtt_down, now - self.started)
        self._log_locks(locks)
        self.locks = locks
        blocked = frozenset().union(*(lock.blocks for lock in locks))
        states = {inv.name: inv.state() for inv in self.inverters}
        plan = self.controller.step(now, reading, states, blocked, view.dcl_w, view.ccl_w)
        self.plan = plan
        for inv in self.inverters:
            watts = plan.inverters[inv.name]
            if self._sent.get(inv.name) != watts:
                self._sent[inv.name] = watts
                log.info("netzero: %s → %.0f W (%s)", inv.name, watts, plan.reason)
                inv.request(watts)
        for sw in self.switches:
            on = plan.switches.get(sw.name, False)
            if self._sent.get(sw.name) != on:
                self._sent[sw.name] = on
                why = ", ".join(lock.reason for lock in locks) or f"mode {self.mode}"
                log.info("netzero: %s → %s (%s)", sw.name, "on" if on else "off", why)
                sw.request(on)
        return plan

    def _log_locks(self, locks: list[Lock]) -> None:
        before = {lock.key for lock in self.locks}
        after = {lock.key for lock in locks}
        for lock in locks:
            if lock.key not in before:
                log.warning(
                    "netzero: lock %s (blocks %s)", lock.reason, ", ".join(sorted(lock.blocks))
                )
        for key in before - after:
            log.info("netzero: lock %s released", key)

    def state(self) -> dict[str, Any]:
        reading = self.consumption.latest()
        plan = self.plan
        inverters = {}
        for inv in self.inverters:
            st = inv.state()
            inverters[inv.name] = {
                "status": str(st.status),
                "power_w": st.power_w,
                "limit_w": st.limit_w,
                "requested_w": plan.inverters.get(inv.name) if plan else None,
                "error": st.error,
            }
        switches = {}
        for sw in self.switches:
            ss = sw.state()
            switches[sw.name] = {
                "status": str(ss.status),
                "on": ss.on,
                "power_w": ss.power_w,
                "requested_on": plan.switches.get(sw.name) if plan else None,
                "role": self.roles[sw.name],
                "error": ss.error,
            }
        return state_json(
            self.mode,
            self.cfg.target_w,
            reading.watts if reading else None,
            [lock.reason for lock in self.locks],
            inverters,
            switches,
            plan.reason if plan else "starting",
        )

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                self.tick()
            except Exception:  # a bug in one tick must not stop the loop that keeps 0 W safe
                log.exception("netzero: tick failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.period):
                    await self.wake.wait()


def battery_view(gateway: Gateway, name: str) -> Callable[[], BatteryView]:
    """Reads the `battery:` battery or group from the gateway's hub (wall-clock ages)."""
    from batmux.core.bank import DEFAULT_LIMITS
    from batmux.core.freshness import last_good

    config = gateway.config
    limits = None
    for b in config.batteries:
        if b.name == name:
            limits = b.limits
    for g in config.groups:
        if g.name == name:
            limits = g.limits
    stale_after = (limits or DEFAULT_LIMITS).stale_after

    def view() -> BatteryView:
        state = gateway.hub.latest(name)
        if state is None or state.sample is None or not state.available:
            return BatteryView(None, stale_after)
        s = state.sample
        temps = list(s.temperatures_c)
        lim = state.limits
        return BatteryView(
            age_s=max(0.0, gateway.clock() - last_good(state)),
            stale_after_s=stale_after,
            cell_min_v=s.min_cell_v,
            cell_max_v=s.max_cell_v,
            temp_min_c=min(temps) if temps else None,
            temp_max_c=max(temps) if temps else None,
            voltage_v=s.voltage_v,
            ccl_a=lim.charge_current_a if lim is not None else None,
            dcl_a=lim.discharge_current_a if lim is not None else None,
        )

    return view


def build_devices(
    cfg: NetzeroConfig, clock: Clock, session: Any, config_dir: Path, gateway: Gateway | None
) -> tuple[list[Inverter], list[Switch]]:
    from batmux.netzero.devices import build_charger, build_inverter

    def vedirect(name: str) -> object:
        assert gateway is not None
        return gateway.batteries[name].source

    inverters = [
        build_inverter(e, config_dir=config_dir, clock=clock, session=session)
        for e in cfg.inverters
    ]
    switches = [
        build_charger(
            e, clock=clock, session=session, vedirect_switch=vedirect if gateway else None
        )
        for e in cfg.chargers
    ]
    return inverters, switches


async def run_mqtt(runner: NetzeroRunner, mqtt: MqttConfig, meters: list[MqttConsumption]) -> None:
    """Subscribe to mode/set and the MQTT meters, publish state, mode and discovery;
    reconnects forever, telling the runner when the broker is lost (mqtt_offline guard).

    A second connection beside the MQTT sink's: with ``mqtt.client_id`` set it connects as
    ``<client_id>-netzero``, since a broker drops the older of two sessions with one id."""
    import aiomqtt

    from batmux.sinks import json_text as json
    from batmux.sinks.mqtt import client_kwargs

    kwargs = client_kwargs(mqtt, role="netzero")

    t = topics(mqtt.base_topic)
    by_topic = {m.topic: m for m in meters}
    names = [i.name for i in runner.inverters] + [s.name for s in runner.switches]
    delay = 1.0
    while True:
        before = cancel_count()
        try:
            async with aiomqtt.Client(**kwargs) as client:
                reraise_lost_cancel(before)  # see links/lost_cancel.py
                runner.mqtt_up(True)
                delay = 1.0
                if mqtt.discovery:
                    for topic, payload in discovery(
                        mqtt.base_topic, mqtt.discovery_prefix, names, mqtt.gateway or ""
                    ).items():
                        await guarded(
                            client.publish(topic, json.dumps(payload), qos=1, retain=True)
                        )
                await guarded(client.subscribe(t["mode_set"], qos=1))
                for topic in by_topic:
                    await guarded(client.subscribe(topic, qos=0))
                publisher = asyncio.create_task(_publish_state(client, runner, t))
                try:
                    async for message in client.messages:
                        await _dispatch(client, runner, t, by_topic, message)
                finally:
                    publisher.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                        await publisher
        except aiomqtt.MqttError as exc:
            runner.mqtt_up(False)
            log.warning("netzero: MQTT: %s; reconnecting in %.0f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(30.0, delay * 2)


async def _dispatch(
    client: Any, runner: NetzeroRunner, t: dict[str, str], meters: dict[str, Any], message: Any
) -> None:
    topic = str(message.topic)
    payload = message.payload
    data = payload if isinstance(payload, bytes) else str(payload).encode()
    if topic == t["mode_set"]:
        if runner.set_mode(data.decode("utf-8", "replace")):
            await guarded(client.publish(t["mode_actual"], runner.mode, qos=1, retain=True))
    elif topic in meters:
        meters[topic].feed(data)


async def _publish_state(client: Any, runner: NetzeroRunner, t: dict[str, str]) -> None:
    from batmux.sinks import json_text as json

    last: str | None = None
    last_at = 0.0
    last_mode = None
    while True:
        payload = json.dumps(runner.state())
        now = time.monotonic()
        if payload != last or now - last_at >= STATE_REFRESH_S:
            await guarded(client.publish(t["state"], payload, qos=0, retain=True))
            last, last_at = payload, now
        if runner.mode != last_mode:
            await guarded(client.publish(t["mode_actual"], runner.mode, qos=1, retain=True))
            last_mode = runner.mode
        await asyncio.sleep(min(1.0, runner.cfg.period))


async def run_netzero(gateway: Gateway) -> None:
    """The `netzero` sink of `batmux run` (supervised: a crash restarts it with backoff)."""
    import aiohttp

    from batmux.runtime.supervise import supervised

    config = gateway.config
    cfg = config.netzero
    assert cfg is not None
    clock = MonotonicClock()
    config_dir = Path(getattr(gateway, "config_dir", None) or ".")
    async with aiohttp.ClientSession() as session:
        consumption, meters = build_consumption(cfg.consumption, clock, session)
        inverters, switches = build_devices(cfg, clock, session, config_dir, gateway)
        runner = NetzeroRunner(
            cfg,
            clock=clock,
            consumption=consumption,
            inverters=inverters,
            switches=switches,
            battery=battery_view(gateway, cfg.battery),
            roles={c.label: c.role for c in cfg.chargers},
            mqtt_used=config.mqtt is not None,
        )
        log.info(
            "netzero: controlling %d inverter(s) and %d switch(es) for %s, mode %s, target %g W",
            len(inverters), len(switches), cfg.battery, cfg.mode, cfg.target_w,
        )  # fmt: skip
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(supervised("netzero:consumption", consumption.run))
                for device in [*inverters, *switches]:
                    tg.create_task(supervised(f"netzero:{device.name}", device.run))
                tg.create_task(runner.run())
                if config.mqtt is not None:
                    tg.create_task(run_mqtt(runner, config.mqtt, meters))
        finally:
            await stop_devices([*inverters, *switches])


async def stop_devices(devices: list[Any], budget_s: float = STOP_BUDGET_S) -> None:
    """Inverters and grid chargers off when batmux stops (one try each, within ``budget_s``)."""
    stops = [stop() for d in devices if (stop := getattr(d, "stop", None)) is not None]
    if not stops:
        return
    try:
        async with asyncio.timeout(budget_s):
            await asyncio.gather(*stops, return_exceptions=True)
    except TimeoutError:
        log.warning("netzero: devices not all switched off within %g s of stopping", budget_s)
