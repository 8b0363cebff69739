"""Battery current and the ESS minimum SoC, read from Victron gear on the Venus D-Bus.

Watches services the way velib's dbusmonitor does: ``GetItems`` on ``/`` when a service
appears (per-path ``GetValue`` for services too old for it), then ``ItemsChanged`` /
``PropertiesChanged`` for changes and ``NameOwnerChanged`` for services coming and going.

Battery current = VE.Bus ``/Dc/0/Current`` + Σ solar chargers' ``/Dc/0/Current`` ± shunts
(battery shunts added, DC-load shunts subtracted, each optionally inverted). If any reading the
sum needs is missing, invalid or from a disconnected device, ``current_a()`` is None so the caller
falls back to the BMS current, as dbus-aggregate-batteries does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from batmux.devices.health import Health
from batmux.errors import ControlRefused, LinkError, NoData
from batmux.links.venus_dbus import DBUS, Value, add_match, as_float, call, connect, unwrap
from batmux.model.sample import BatterySample
from batmux.sinks.venus_config import VictronInputConfig

log = logging.getLogger(__name__)

VEBUS = "com.victronenergy.vebus."
SOLAR = "com.victronenergy.solarcharger."
SETTINGS = "com.victronenergy.settings"
MIN_SOC_PATH = "/Settings/CGwacs/BatteryLife/MinimumSocLimit"
CURRENT = "/Dc/0/Current"
WANTED_PATHS = (CURRENT, "/Connected")
MATCH_RULES = (
    f"type='signal',sender='{DBUS}',interface='{DBUS}',member='NameOwnerChanged'",
    "type='signal',interface='com.victronenergy.BusItem',member='ItemsChanged'",
    "type='signal',interface='com.victronenergy.BusItem',member='PropertiesChanged'",
)


class VictronInput:
    """A current source for the coulomb counter / bank; ``async with`` it, then read."""

    def __init__(self, cfg: VictronInputConfig, bus_address: str | None = None) -> None:
        self.cfg = cfg
        self._bus_address = bus_address
        self._bus: MessageBus | None = None
        self._values: dict[str, dict[str, Value]] = {}  # service → path → value
        self._owners: dict[str, str] = {}  # unique bus name → service
        self._pending: dict[str, dict[str, Value]] = {}  # service → changes during its scan
        self._scans: set[asyncio.Task[None]] = set()
        self.scan_failures = 0

    # -- what callers read ----------------------------------------------------------------------
    def current_a(self) -> float | None:
        """Battery current (+ = charging) from Victron devices, or None if a reading failed."""
        total = 0.0
        if self.cfg.vebus:
            vebus = self._services(VEBUS)
            if not vebus:
                return None
            for service in vebus:
                reading = self._current(service)
                if reading is None:
                    return None
                total += reading
        if self.cfg.solar_chargers:
            for service in self._services(SOLAR):
                reading = self._current(service)
                if reading is None:
                    return None
                total += reading
        for shunt in self.cfg.shunts:
            reading = self._current(shunt.service_name)
            if reading is None:
                return None
            total += shunt.sign * reading
        return round(total, 3)

    def min_soc(self) -> float | None:
        """The ESS minimum SoC (%) the user set on the GX, if configured and known."""
        if not self.cfg.min_soc:
            return None
        return as_float(self._values.get(SETTINGS, {}).get(MIN_SOC_PATH))

    def readings(self) -> dict[str, float | None]:
        """Every device current seen, for diagnostics."""
        return {s: as_float(v.get(CURRENT)) for s, v in self._values.items() if s != SETTINGS}

    @property
    def connected(self) -> bool:
        return self._bus is not None and self._bus.connected

    def _services(self, prefix: str) -> list[str]:
        return sorted(s for s in self._values if s.startswith(prefix))

    def _current(self, service: str) -> float | None:
        values = self._values.get(service)
        if values is None:
            return None
        connected = values.get("/Connected")
        if connected is not None and not connected:  # absent /Connected: trust the value
            return None
        return as_float(values.get(CURRENT))

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> VictronInput:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._bus = bus = await connect(self._bus_address)
        bus.add_message_handler(self._on_message)
        for rule in MATCH_RULES:
            await add_match(bus, rule)
        (names,) = await call(bus, DBUS, "/org/freedesktop/DBus", "ListNames", DBUS)
        await asyncio.gather(*(self._scan(n) for n in names if self._wanted(n)))

    async def run(self) -> None:
        """Start, then watch until the bus connection ends (``LinkError``) or cancelled."""
        try:
            await self.start()
            assert self._bus is not None
            await self._bus.wait_for_disconnect()
            raise LinkError("Venus D-Bus connection closed")
        finally:
            await self.close()

    async def close(self) -> None:
        for task in self._scans:
            task.cancel()
        self._scans.clear()
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.remove_message_handler(self._on_message)
            bus.disconnect()
        self._values.clear()
        self._owners.clear()

    # -- discovery and changes ------------------------------------------------------------------
    def _wanted(self, name: str) -> bool:
        if name.startswith(VEBUS):
            return self.cfg.vebus
        if name.startswith(SOLAR):
            return self.cfg.solar_chargers
        if name == SETTINGS:
            return self.cfg.min_soc
        return any(name == s.service_name for s in self.cfg.shunts)

    async def _scan(self, service: str, owner: str | None = None) -> None:
        bus = self._bus
        if bus is None:
            return
        try:
            if owner is None:
                (owner,) = await call(
                    bus, DBUS, "/org/freedesktop/DBus", "GetNameOwner", DBUS, "s", [service]
                )
            self._owners[owner] = service
            # Signals that overtake the GetItems reply land here and win over it.
            self._pending[service] = pending = {}
            values = await self._read(bus, service)
        except LinkError as exc:
            self.scan_failures += 1
            log.warning("cannot read %s: %s", service, exc)
            return
        finally:
            self._pending.pop(service, None)
        self._values[service] = values | pending
        log.info("watching %s", service)

    async def _read(self, bus: MessageBus, service: str) -> dict[str, Value]:
        if service == SETTINGS:  # thousands of settings: ask for the one we use
            (value,) = await call(bus, service, MIN_SOC_PATH, "GetValue")
            return {MIN_SOC_PATH: unwrap(value)}
        try:
            (items,) = await call(bus, service, "/", "GetItems")
            return {p: unwrap(item.get("Value")) for p, item in items.items()}
        except LinkError:  # a service from before GetItems: one GetValue per path
            out: dict[str, Value] = {}
            for path in WANTED_PATHS:
                with contextlib.suppress(LinkError):
                    (value,) = await call(bus, service, path, "GetValue")
                    out[path] = unwrap(value)
            if CURRENT not in out:
                raise
            return out

    def _on_message(self, msg: Message) -> None:
        if msg.message_type is not MessageType.SIGNAL:
            return
        if msg.member == "NameOwnerChanged" and msg.sender == DBUS:
            self._on_owner(*msg.body)
            return
        service = self._owners.get(msg.sender or "")
        if service is None:
            return
        values = self._values.get(service, self._pending.get(service))
        if values is None:
            return
        if msg.member == "ItemsChanged" and msg.signature == "a{sa{sv}}":
            for path, item in msg.body[0].items():
                values[path] = unwrap(item.get("Value"))
        elif (
            msg.member == "PropertiesChanged"
            and msg.signature == "a{sv}"
            and "Value" in msg.body[0]
        ):
            values[msg.path] = unwrap(msg.body[0]["Value"])

    def _on_owner(self, name: str, old: str, new: str) -> None:
        if not self._wanted(name):
            return
        if old:
            self._owners.pop(old, None)
            self._values.pop(name, None)
            log.info("%s left the bus", name)
        if new:
            task = asyncio.get_running_loop().create_task(self._scan(name, new))
            self._scans.add(task)
            task.add_done_callback(self._scans.discard)


class VictronCurrentSource:
    """``type: victron_dbus``: the Victron-measured current as a battery entry.

    So a bank or coulomb counter can name it like any other current device. ``sample()`` gives
    ``current_a`` (and ``extra['ess_min_soc']``) or raises ``NoData`` while a reading is missing.
    The watch options come from the root ``victron_input:`` section (defaults if absent).
    """

    def __init__(self, name: str, victron: VictronInput) -> None:
        self.name = name
        self.health = Health()
        self.victron = victron

    async def sample(self) -> BatterySample:
        if not self.victron.connected:
            try:
                await self.victron.start()
            except LinkError as exc:
                self.health.error(str(exc))
                await self.victron.close()
                raise
            self.health.connects += 1
        current = self.victron.current_a()
        if current is None:
            raise NoData(f"{self.name}: no complete Victron current reading")
        extra: dict[str, float] = {}
        if (min_soc := self.victron.min_soc()) is not None:
            extra["ess_min_soc"] = min_soc
        self.health.samples += 1
        return BatterySample(timestamp=time.time(), current_a=current, extra=extra)

    async def close(self) -> None:
        await self.victron.close()

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused(f"{self.name}: Victron current input has no switches")


def victron_source(cfg: Any, context: dict[str, Any]) -> VictronCurrentSource:
    """Registry factory ``(battery_config, context) -> Source``."""
    gateway = context.get("gateway")
    section = getattr(getattr(gateway, "config", None), "victron_input", None)
    return VictronCurrentSource(cfg.name, VictronInput(section or VictronInputConfig()))
