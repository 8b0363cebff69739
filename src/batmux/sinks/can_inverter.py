"""What the BYD-CAN and Pylontech-CAN sinks share: the link, safe limits, liveness, status.

A sink reads ``hub.latest(battery)`` at the moment it sends, never a copy refreshed by a
timer. ``status()`` is what the lead publishes to MQTT/HA as the inverter link's entities.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from batmux.core.soc_window import apply_soc_window, window_status
from batmux.errors import LinkError
from batmux.links.can_bus import CanLink
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from batmux.protocols.candump import Frame
from batmux.protocols.inverter_limits import (
    INVERTER_SILENT,
    UNSAFE_REASONS,
    LimitKeeper,
)
from batmux.runtime.hub import StateHub
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.soc_window_config import soc_window

log = logging.getLogger(__name__)

NO_BATTERY_DATA = "no_battery_data"  # no trustworthy CVL yet: nothing is sent
WAITING = "waiting_for_inverter"
RUNNING = "running"
MISSING = "inverter_missing"


class CanInverterSink:
    def __init__(
        self,
        cfg: BydCanInverterConfig | PylontechCanInverterConfig,
        hub: StateHub,
        link: CanLink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.hub = hub
        self.name = cfg.link_name
        self.link = link or CanLink(cfg.can, cfg.log)
        self.keeper = LimitKeeper(cfg.charge_voltage, cfg.discharge_voltage, cfg.stale_after)
        self.window = soc_window(cfg.soc_window)
        self.clock = clock  # wall clock, compared with the state's timestamps
        self.state = WAITING
        self.inverter_alive = False
        self.inverter_name = ""
        self.last_inverter_at: float | None = None  # loop time of the last inverter frame
        self.started_at = time.monotonic()  # the loop's clock: silence counts from here
        self.limits: ChargeLimits | None = None
        self.frames_sent = 0
        self.errors = 0
        self.last_error = ""

    def current(self) -> tuple[BatteryState | None, ChargeLimits | None]:
        """The battery state (as seen through the SoC window) and safe limits right now."""
        state = apply_soc_window(self.hub.latest(self.cfg.battery), self.window)
        limits = self.keeper.limits(state, self.clock())
        if (
            limits is not None
            and self.cfg.on_inverter_silent == "stop"
            and not self.inverter_alive
            and limits.reason not in UNSAFE_REASONS
        ):  # nobody is listening (or its link is broken): offer nothing until it talks again
            limits = replace(limits, charge_current_a=0.0, discharge_current_a=0.0,
                             reason=INVERTER_SILENT)  # fmt: skip
        if limits is not None and self.limits is not None and limits.reason != self.limits.reason:
            log.info("%s: limits now %s", self.name, limits.reason or "normal")
        self.limits = limits
        return state, limits

    async def send(self, frames: list[Frame]) -> bool:
        try:
            await self.link.send_all(frames)
        except LinkError as exc:
            self.errors += 1
            self.last_error = str(exc)
            log.warning("%s: %s", self.name, exc)
            return False
        self.frames_sent += len(frames)
        return True

    def heard_inverter(self, now: float) -> bool:
        """Note an inverter frame; True when the inverter was not alive before."""
        was_alive = self.inverter_alive
        self.last_inverter_at = now
        self.inverter_alive = True
        if not was_alive:
            log.info("%s: inverter is talking", self.name)
        return not was_alive

    def silent_for(self) -> float:
        """Seconds since the inverter's last frame (since the sink started if none came)."""
        last = self.last_inverter_at if self.last_inverter_at is not None else self.started_at
        return time.monotonic() - last  # loop.time() is time.monotonic() on asyncio's loop

    def check_missing(self, now: float) -> None:
        last = self.last_inverter_at
        if self.inverter_alive and last is not None and now - last > self.cfg.inverter_timeout:
            self.inverter_alive = False
            self.state = MISSING
            log.warning("%s: inverter missing (silent for %.0f s)", self.name, now - last)

    def status(self) -> dict[str, Any]:
        limits = self.limits
        return {
            "name": self.name,
            "type": self.cfg.type,
            "battery": self.cfg.battery,
            "state": self.state,
            "inverter_alive": self.inverter_alive,
            "inverter_name": self.inverter_name,
            "battery_stale": limits is None or limits.reason in UNSAFE_REASONS,
            "limit_reason": limits.reason if limits else NO_BATTERY_DATA,
            "charge_voltage_limit": limits.charge_voltage_v if limits else None,
            "charge_current_limit": limits.charge_current_a if limits else 0.0,
            "discharge_current_limit": limits.discharge_current_a if limits else 0.0,
            "frames_sent": self.frames_sent,
            "frames_received": self.link.frames_received,
            "errors": self.errors,
            "last_error": self.last_error,
            **window_status(self.hub.latest(self.cfg.battery), self.window),
        }
