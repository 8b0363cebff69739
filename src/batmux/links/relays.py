"""External precharge/main relays: GPIO (gpiod), HTTP (Shelly Gen1, Tasmota) and MQTT.

``RelayOutput.apply(plan)`` writes only the relays whose wanted state changed, switching off
before on and main before precharge when opening, and logs every write with its reason. A
failed write is logged and retried on the next ``apply`` (the relay's state stays unknown).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any, Protocol

from batmux.core.relay_config import RelayChannel, RelaysConfig
from batmux.core.relay_sequence import RelayPlan
from batmux.errors import LinkError

log = logging.getLogger(__name__)


class RelayBackend(Protocol):
    async def write(self, relay: RelayChannel, on: bool) -> None: ...

    async def close(self) -> None: ...


def http_path(relay: RelayChannel, on: bool) -> str:
    """Shelly Gen1 ``/relay/<id>?turn=on|off``; Tasmota ``/cm?cmnd=Power<n>%20On|Off``."""
    if relay.kind == "shelly":
        return f"/relay/{relay.channel}?turn={'on' if on else 'off'}"
    power = f"Power{relay.channel}" if relay.channel else "Power"
    return f"/cm?cmnd={power}%20{'On' if on else 'Off'}"


class HttpRelays:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._session: Any = None

    async def write(self, relay: RelayChannel, on: bool) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(self.timeout_s))
        url = (relay.url or "").rstrip("/") + http_path(relay, on)
        try:
            async with self._session.get(url) as reply:
                if reply.status != 200:
                    raise LinkError(f"GET {url}: HTTP {reply.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LinkError(f"GET {url}: {str(exc) or type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class MqttRelays:
    """One publish (QoS 1) per write on the root ``mqtt:`` broker."""

    def __init__(self, mqtt: Any, timeout_s: float) -> None:
        if mqtt is None:
            raise LinkError("relays backend mqtt needs the top-level mqtt: section")
        self.mqtt = mqtt
        self.timeout_s = timeout_s

    async def write(self, relay: RelayChannel, on: bool) -> None:
        import aiomqtt

        from batmux.sinks.mqtt import client_kwargs

        try:
            async with asyncio.timeout(self.timeout_s):
                async with aiomqtt.Client(**client_kwargs(self.mqtt, role="relays")) as client:
                    payload = relay.on if on else relay.off
                    await client.publish(relay.topic or "", payload, qos=1)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise LinkError(f"MQTT {relay.topic}: {str(exc) or type(exc).__name__}") from exc

    async def close(self) -> None:
        return None


class GpiodRelays:
    """libgpiod v2 (``import gpiod``, imported only when this backend is used)."""

    def __init__(self, module: Any = None) -> None:
        self._module = module
        self._requests: dict[tuple[str, int], Any] = {}

    def _gpiod(self) -> Any:
        if self._module is None:
            try:
                self._module = importlib.import_module("gpiod")
            except ImportError as exc:
                raise LinkError("relays backend gpiod needs the gpiod package (v2)") from exc
        return self._module

    async def write(self, relay: RelayChannel, on: bool) -> None:
        gpiod = self._gpiod()
        line = int(relay.line or 0)
        value = gpiod.line.Value.ACTIVE if on else gpiod.line.Value.INACTIVE
        try:
            request = self._requests.get((relay.chip, line))
            if request is None:
                settings = gpiod.LineSettings(
                    direction=gpiod.line.Direction.OUTPUT,
                    active_low=relay.active_low,
                    output_value=value,
                )
                request = gpiod.request_lines(
                    relay.chip, consumer="batmux", config={line: settings}
                )
                self._requests[(relay.chip, line)] = request
            request.set_value(line, value)
        except OSError as exc:
            raise LinkError(f"GPIO {relay.chip} line {line}: {exc}") from exc

    async def close(self) -> None:
        for request in self._requests.values():
            request.release()
        self._requests.clear()


def make_backend(cfg: RelaysConfig, mqtt: Any = None, gpiod: Any = None) -> RelayBackend:
    if cfg.backend == "http":
        return HttpRelays(cfg.timeout_s)
    if cfg.backend == "mqtt":
        return MqttRelays(mqtt, cfg.timeout_s)
    return GpiodRelays(gpiod)


class RelayOutput:
    """The two relays of one pack; ``apply`` with every contactor tick."""

    def __init__(self, name: str, cfg: RelaysConfig, backend: RelayBackend) -> None:
        self.name = name
        self.cfg = cfg
        self.backend = backend
        self.state: dict[str, bool | None] = {"precharge": None, "main": None}  # None: unknown
        self.writes: list[tuple[str, bool, str]] = []  # (relay, on, reason), bounded
        self.errors = 0

    async def apply(self, plan: RelayPlan) -> None:
        wanted = {"precharge": plan.precharge, "main": plan.main}
        offs = [r for r in ("main", "precharge") if not wanted[r] and self.state[r] is not False]
        ons = [r for r in ("precharge", "main") if wanted[r] and self.state[r] is not True]
        for relay in offs + ons:
            on = wanted[relay]
            try:
                async with asyncio.timeout(self.cfg.timeout_s + 1):
                    await self.backend.write(getattr(self.cfg, relay), on)
            except (LinkError, TimeoutError) as exc:
                self.errors += 1
                self.state[relay] = None
                log.error("%s: relay %s %s failed (%s): %s", self.name, relay,
                          "on" if on else "off", plan.reason, exc)  # fmt: skip
                return  # the sequence must not skip a step: retried on the next tick
            self.state[relay] = on
            log.warning("%s: relay %s %s (%s)", self.name, relay, "on" if on else "off",
                        plan.reason)  # fmt: skip
            if len(self.writes) < 10_000:
                self.writes.append((relay, on, plan.reason))

    async def close(self) -> None:
        await self.backend.close()
