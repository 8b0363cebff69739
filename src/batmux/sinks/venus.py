"""A battery or group as a Venus OS ``com.victronenergy.battery.<name>`` service.

The D-Bus side of ``venus_paths.build_paths``: the ``com.victronenergy.BusItem`` contract on
every path (GetValue/GetText/SetValue/GetDescription on leaves, subtree dicts on nodes, GetItems
on ``/``). Signals as velib's ``VeDbusService`` sends them: a publish is one batch (velib's
``with service as ctx:``), so it is one ``ItemsChanged`` on ``/`` carrying every changed path and
no ``PropertiesChanged``; a ``SetValue`` from the bus is one ``PropertiesChanged`` on its path
(velib's ``local_set_value``). Sending both for every change would make each consumer (velib's
dbusmonitor listens to both) handle every change twice. Each service has its own bus connection
because every service exports ``/``.

Persisted under ``state_dir/venus/<suffix>/``: ``history.json`` (the ``/History/*`` tracker, saved
with the gateway's meters every ``SAVE_PERIOD_S`` and when the sink stops) and
``custom_name.json`` (a name written to ``/CustomName``, saved at once).

Device instance: when ``com.victronenergy.settings`` is on the bus, the service registers
``/Settings/Devices/batmux_<suffix>/ClassAndVrmInstance`` with ``battery:<device_instance>``
before it takes its name, and publishes the instance the settings service hands back (stable
across restarts, distinct from other batteries). Without that service the configured instance is
used and the reason is logged once.

Lifecycle: the name is requested once the first fresh state has filled every path; stale data
sets ``/Connected`` 0 (and 0 A limits); after ``disconnect_timeout`` the name is released and
the connection closed, which DVCC treats as "BMS lost"; fresh data brings the service back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from batmux.core.history import HistoryTracker
from batmux.core.statefile import load_json, save_json_atomic
from batmux.errors import LinkError
from batmux.links.items_changed import ItemsChangedSignal, items_changed_body
from batmux.links.venus_dbus import BUSITEM, Value, connect, wrap
from batmux.links.venus_settings import SETTINGS_SERVICE, allocate_instance, settings_present
from batmux.model.sample import device_paths
from batmux.model.state import BatteryState
from batmux.runtime.hub import StateHub
from batmux.sinks.venus_config import VenusConfig
from batmux.sinks.venus_paths import (
    CUSTOM_NAME_MAX_LEN,
    WRITABLE,
    build_paths,
    default_name,
    description,
    history_paths,
    text,
)

log = logging.getLogger(__name__)
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
DEVICE_CLASS = "battery"
SETTINGS_TIMEOUT_S = 5.0  # a hung settings service must not keep the battery off the bus


def _nodes(paths: Iterable[str]) -> set[str]:
    """Every intermediate node of the tree, ``/`` included."""
    out = {"/"}
    for path in paths:
        parts = path.split("/")[1:-1]
        for i in range(1, len(parts) + 1):
            out.add("/" + "/".join(parts[:i]))
    return out


_ABSENT = object()  # no path has this value: a new path always counts as changed


class VenusService:
    """One battery service; ``update()`` with each new state, ``tick()`` now and then."""

    def __init__(
        self,
        cfg: VenusConfig,
        bus_address: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        state_dir: str | Path | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self._bus_address = bus_address
        self._clock = clock
        self._bus: MessageBus | None = None
        self._values: dict[str, Value] = {}
        self._nodes: set[str] = set()
        self._state: BatteryState | None = None
        self._updated_at = clock()
        self._stale_since: float | None = None
        # None: no state_dir, nothing is saved (history and names live until the process ends).
        self._dir = Path(state_dir) / "venus" / cfg.suffix if state_dir is not None else None
        self.history = HistoryTracker.from_json(self._load("history.json"), wall_clock)
        self._custom_name = _valid_name(self._load("custom_name.json"))
        self._lock = asyncio.Lock()
        self.device_instance = cfg.device_instance  # until the settings service says otherwise
        self.instance_from_settings = False
        self._told_no_settings = False
        self.registered = False
        self.items_changed_sent = 0
        self.properties_changed_sent = 0
        self.rejected_writes = 0  # SetValue with a wrong type or an over-long name
        self.readonly_writes = 0  # SetValue on a read-only path
        self.register_failures = 0

    @property
    def name(self) -> str:
        return self.cfg.service_name

    def values(self) -> dict[str, Value]:
        return dict(self._values)

    # -- state files ----------------------------------------------------------------------------
    def _load(self, name: str) -> object:
        return None if self._dir is None else load_json(self._dir / name)

    def save_history(self) -> None:
        """Write the history file (atomic); the gateway calls this with its meter saves."""
        if self._dir is not None:
            save_json_atomic(self._dir / "history.json", self.history.to_json())

    def _save_custom_name(self) -> None:
        if self._dir is None:
            return
        try:
            # A rare user action: one small fsync on the event loop is cheaper than a thread hop.
            save_json_atomic(self._dir / "custom_name.json", self._custom_name)
        except OSError as exc:
            log.error("%s: cannot save /CustomName: %s", self.name, exc)

    # -- driving ------------------------------------------------------------------------------
    async def update(self, state: BatteryState | None) -> None:
        async with self._lock:
            if state is None and self._state is not None:
                state = dataclasses.replace(self._state, available=False)  # it vanished: stale
            self._state = state
            if state is not None:
                self.history.update(state)
            self._updated_at = self._clock()
            await self._apply()

    async def tick(self) -> None:
        async with self._lock:
            await self._apply()

    async def close(self) -> None:
        async with self._lock:
            await self._unregister()
            try:
                self.save_history()
            except OSError as exc:
                log.error("%s: cannot save history: %s", self.name, exc)

    async def _apply(self) -> None:
        now = self._clock()
        if self._bus is not None and not self._bus.connected:
            log.warning("%s: D-Bus connection lost; registering again", self.name)
            self._bus, self.registered = None, False
        state = self._state
        if state is None:
            return
        fresh = state.available and state.sample is not None
        if fresh and now - self._updated_at > self.cfg.stale_after:
            fresh = False  # the hub stopped publishing: the last state is not news any more
        if not fresh:
            state = dataclasses.replace(state, available=False)
        self._stale_since = None if fresh else (self._stale_since or now)

        values = build_paths(state, self.cfg, self.cfg.is_bms)
        values["/DeviceInstance"] = self.device_instance
        values.update(history_paths(self.history))
        if state.sample is not None:  # a BMS's own values win, as dbus-mqtt-battery shows them
            values.update(device_paths(state.sample))
        if self._custom_name is not None:
            values["/CustomName"] = self._custom_name
        if not self.registered:
            if fresh:
                await self._register(values)
            return
        self._publish(values)
        if self._stale_since is not None and now - self._stale_since >= self.cfg.disconnect_timeout:
            log.warning("%s: stale for %.0f s; leaving the bus", self.name, now - self._stale_since)
            await self._unregister()

    # -- bus lifecycle --------------------------------------------------------------------------
    async def _register(self, values: dict[str, Value]) -> None:
        self._values = values
        self._nodes = _nodes(values)
        try:
            if self._bus is None:
                self._bus = await connect(self._bus_address)
                self._bus.add_message_handler(self._handle)
            await self._choose_instance(self._bus)
            values["/DeviceInstance"] = self.device_instance  # before anyone can read it
            reply = await self._bus.request_name(self.name, NameFlag.DO_NOT_QUEUE)
        except (LinkError, DBusError, OSError, EOFError) as exc:
            self.register_failures += 1
            log.warning("%s: cannot register: %s", self.name, exc)
            await self._drop_bus()
            return
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            self.register_failures += 1
            log.error("%s: the name is taken by another process (%s)", self.name, reply.name)
            await self._drop_bus()
            return
        self.registered = True
        log.info("%s: registered (device instance %d)", self.name, self.device_instance)

    async def _choose_instance(self, bus: MessageBus) -> None:
        """Ask the settings service for the instance; keep the last one when that fails."""
        unique_id = self.cfg.settings_id
        try:
            async with asyncio.timeout(SETTINGS_TIMEOUT_S):
                if not await settings_present(bus):
                    if not self._told_no_settings:
                        self._told_no_settings = True
                        log.info(
                            "%s: %s is not on the bus; using device instance %d",
                            self.name,
                            SETTINGS_SERVICE,
                            self.device_instance,
                        )
                    return
                instance = await allocate_instance(
                    bus, unique_id, DEVICE_CLASS, self.cfg.device_instance
                )
        except (LinkError, TimeoutError) as exc:
            log.warning(
                "%s: no device instance from %s (%s); using %d",
                self.name,
                SETTINGS_SERVICE,
                str(exc) or "timed out",
                self.device_instance,
            )
            return
        if instance != self.device_instance:
            log.info(
                "%s: %s gave device instance %d (proposed %d)",
                self.name,
                SETTINGS_SERVICE,
                instance,
                self.cfg.device_instance,
            )
        self.device_instance = instance
        self.instance_from_settings = True

    async def _unregister(self) -> None:
        if self._bus is not None and self.registered and self._bus.connected:
            with contextlib.suppress(DBusError, OSError, EOFError):
                await self._bus.release_name(self.name)
        self.registered = False
        self._stale_since = None
        await self._drop_bus()

    async def _drop_bus(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.remove_message_handler(self._handle)
            bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.wait_for_disconnect(), 2.0)

    # -- publishing -----------------------------------------------------------------------------
    def _publish(self, values: dict[str, Value], batch: bool = True) -> None:
        shown = self._values
        # same type and equal, inlined: this runs for every path of every battery per publish
        changed = {
            p: v
            for p, v in values.items()
            if (o := shown.get(p, _ABSENT)) != v or type(o) is not type(v)
        }
        # The set of paths is the same unless one is new (then it is in `changed`) or one went.
        new_paths = any(p not in shown for p in changed)
        if new_paths or len(values) != len(shown):
            for gone in shown.keys() - values.keys():
                values[gone] = None  # a path once shown stays, as unknown
                if shown[gone] is not None:
                    changed[gone] = None
        if not changed:
            return
        self._values = values
        if new_paths:  # the tree changes only with the set of paths
            self._nodes = _nodes(values)
        self._emit(changed, batch)

    def _emit(self, changed: dict[str, Value], batch: bool = True) -> None:
        """One ItemsChanged for a publish (``batch``), else PropertiesChanged per path."""
        bus = self._bus
        if bus is None or not bus.connected:
            return
        if batch:  # the body as bytes (dbus-fast's bytes, without a Variant pair per path)
            body = items_changed_body(changed, text)
            bus.send(ItemsChangedSignal(body))
            self.items_changed_sent += 1
            return
        for path, value in changed.items():
            item = {"Value": wrap(value), "Text": Variant("s", text(path, value))}
            bus.send(Message.new_signal(path, BUSITEM, "PropertiesChanged", "a{sv}", [item]))
            self.properties_changed_sent += 1

    # -- the BusItem contract -------------------------------------------------------------------
    def _handle(self, msg: Message) -> Message | None:
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        path, member = msg.path, msg.member
        if msg.interface == INTROSPECTABLE and member == "Introspect":
            if path in self._values or path in self._nodes:
                return Message.new_method_return(msg, "s", [self._introspect(path)])
            return None
        if msg.interface not in (None, BUSITEM):
            return None
        if path in self._values:
            return self._leaf(msg, path, member)
        if path in self._nodes:
            return self._node(msg, path, member)
        return None  # dbus-fast answers "unknown method"

    def _leaf(self, msg: Message, path: str, member: str) -> Message | None:
        value = self._values[path]
        if member == "GetValue":
            return Message.new_method_return(msg, "v", [wrap(value)])
        if member == "GetText":
            return Message.new_method_return(msg, "s", [text(path, value)])
        if member == "GetDescription":
            return Message.new_method_return(msg, "s", [description(path)])
        if member == "SetValue" and msg.signature == "v":
            return Message.new_method_return(msg, "i", [self._set(path, msg.body[0])])
        return None

    def _set(self, path: str, new: Variant) -> int:
        """0 accepted, 1 read-only path, wrong type or too long (velib's codes).

        The only writable path is /CustomName; an empty string goes back to the configured name.
        """
        if path not in WRITABLE:
            self.readonly_writes += 1
            return 1
        if new.signature != "s" or len(new.value) > CUSTOM_NAME_MAX_LEN:
            self.rejected_writes += 1
            log.info("%s: SetValue %s with %s rejected", self.name, path, new.signature)
            return 1
        self._custom_name = new.value or None
        self._save_custom_name()
        battery = self._state.name if self._state else self.cfg.battery
        shown = self._custom_name or default_name(self.cfg, battery)
        self._publish({**self._values, path: shown}, batch=False)  # velib: PropertiesChanged
        return 0

    def _node(self, msg: Message, path: str, member: str) -> Message | None:
        prefix = path.rstrip("/") + "/"
        below = {p[len(prefix) :]: v for p, v in self._values.items() if p.startswith(prefix)}
        if member == "GetValue":
            tree = {k: wrap(v) for k, v in below.items()}
            return Message.new_method_return(msg, "v", [Variant("a{sv}", tree)])
        if member == "GetText":
            texts = {k: text(prefix + k, v) for k, v in below.items()}
            return Message.new_method_return(msg, "v", [Variant("a{ss}", texts)])
        if member == "GetItems" and path == "/":
            items = {
                p: {"Value": wrap(v), "Text": Variant("s", text(p, v))}
                for p, v in self._values.items()
            }
            return Message.new_method_return(msg, "a{sa{sv}}", [items])
        return None

    def _introspect(self, path: str) -> str:
        prefix = path.rstrip("/") + "/"
        children = sorted(
            {p[len(prefix) :].split("/")[0] for p in self._values if p.startswith(prefix)}
        )
        methods = (
            '<method name="GetValue"><arg direction="out" type="v"/></method>'
            '<method name="GetText"><arg direction="out" type="v"/></method>'
            '<method name="SetValue"><arg direction="in" type="v"/>'
            '<arg direction="out" type="i"/></method>'
            '<method name="GetDescription"><arg direction="in" type="s"/>'
            '<arg direction="in" type="i"/><arg direction="out" type="s"/></method>'
            '<method name="GetItems"><arg direction="out" type="a{sa{sv}}"/></method>'
            '<signal name="PropertiesChanged"><arg type="a{sv}"/></signal>'
            '<signal name="ItemsChanged"><arg type="a{sa{sv}}"/></signal>'
        )
        nodes = "".join(f'<node name="{c}"/>' for c in children)
        return f'<node><interface name="{BUSITEM}">{methods}</interface>{nodes}</node>'


def _valid_name(stored: object) -> str | None:
    """A name from the state file, if it is one we would have accepted."""
    if isinstance(stored, str) and 0 < len(stored) <= CUSTOM_NAME_MAX_LEN:
        return stored
    return None


# -- the sink task ------------------------------------------------------------------------------
async def _feed(services: list[VenusService], hub: StateHub) -> None:
    async for snapshot in hub.updates():
        for service in services:
            await service.update(snapshot.get(service.cfg.battery))


async def _tick(services: list[VenusService], period: float) -> None:
    while True:
        await asyncio.sleep(period)
        for service in services:
            await service.tick()


async def run_venus(
    cfgs: Iterable[VenusConfig],
    hub: StateHub,
    bus_address: str | None = None,
    state_dir: str | Path | None = None,
    add_saver: Callable[[str, Callable[[], None]], None] | None = None,
) -> None:
    """Serve every ``venus:`` entry from the hub until cancelled (then leave the bus).

    With ``state_dir`` the history and written names persist; ``add_saver`` hands the periodic
    history save to the gateway's own save cycle (``Gateway.add_saver``).
    """
    services = [VenusService(cfg, bus_address, state_dir=state_dir) for cfg in cfgs]
    if not services:
        return
    if add_saver is not None:

        def save_all() -> None:
            for service in services:
                service.save_history()

        add_saver("venus", save_all)  # by name: a restarted sink replaces its old saver
    # Tick often enough that a short disconnect_timeout is honoured to within a quarter.
    period = min(1.0, *(min(s.cfg.disconnect_timeout, s.cfg.stale_after) / 4 for s in services))
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_feed(services, hub))
            tg.create_task(_tick(services, period))
    finally:
        for service in services:
            await service.close()


async def venus_sink(gateway: Any) -> None:
    """``Gateway.add_sink("venus", venus_sink)``: serve ``config.venus`` from the gateway's hub."""
    await run_venus(
        gateway.config.venus,
        gateway.hub,
        state_dir=gateway.config.state_dir,
        add_saver=getattr(gateway, "add_saver", None),
    )
