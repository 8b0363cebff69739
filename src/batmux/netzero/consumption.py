"""Live consumption sources: MQTT payloads, HTTP JSON polling and the sum of several.

Positive watts = import from the grid. Parsing is pure (`parse_power`); a bad payload (not a
number, NaN/inf, a negative value from an unsigned meter, a missing JSON path) raises
`BadReading`, which the source counts and logs once per minute, and never becomes a value: the
controller then sees the last good value age, and the "live data lost" guard takes over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from batmux.netzero.config import HttpMeter, MqttMeter
from batmux.netzero.devices.http import DeviceError, request_json
from batmux.netzero.ports import Clock, PowerReading

log = logging.getLogger(__name__)

LOG_PERIOD_S = 60.0  # at most one log line per source per minute about bad payloads
MAX_ABS_W = 1_000_000.0  # a house meter never reads a megawatt: such a value is garbage


class BadReading(ValueError):
    """A meter payload that is not a usable power value."""


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path through dicts and lists ("emeters.0.power")."""
    for part in path.split("."):
        if isinstance(data, list) and part.lstrip("-").isdigit():
            try:
                data = data[int(part)]
            except IndexError:
                raise BadReading(f"no element {part} in path {path!r}") from None
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise BadReading(f"no {part!r} in path {path!r}")
    return data


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadReading(f"not a number: {str(value)[:40]!r}")
    try:
        watts = float(value)
    except ValueError:
        raise BadReading(f"not a number: {str(value)[:40]!r}") from None
    return watts


def parse_power(
    payload: bytes, fmt: str, path: str | None = None, factor: float = 1.0, signed: bool = True
) -> float:
    """One payload → watts (positive = import). Raises BadReading."""
    if fmt in ("int16", "int32"):
        size = 2 if fmt == "int16" else 4
        if len(payload) != size:
            raise BadReading(f"{fmt} needs {size} bytes, got {len(payload)}")
        return _checked(int.from_bytes(payload, "big", signed=True), factor, signed)  # as sent
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadReading("not UTF-8 text") from None
    if fmt != "json":
        return _checked(_number(text), factor, signed)
    try:
        data = json.loads(text)
    except ValueError:
        raise BadReading(f"not JSON: {text[:40]!r}") from None
    return json_power(data, path or "", factor, signed)


def json_power(data: Any, path: str, factor: float = 1.0, signed: bool = True) -> float:
    """The number at ``path`` of a decoded JSON document → watts. Raises BadReading."""
    return _checked(_number(dig(data, path)), factor, signed)


def _checked(value: float, factor: float, signed: bool) -> float:
    watts = float(value) * factor
    if not math.isfinite(watts) or abs(watts) > MAX_ABS_W:
        raise BadReading(f"not a finite power: {watts}")
    if not signed and watts < 0:
        raise BadReading(f"negative value {watts:g} W from an unsigned meter")
    return watts


class _Source:
    """The latest good reading of one meter, with counters for bad ones."""

    def __init__(self, name: str, signed: bool, clock: Clock) -> None:
        self.name = name
        self.signed = signed
        self.clock = clock
        self.bad = 0
        self.good = 0
        self._latest: PowerReading | None = None
        self._last_log = -math.inf
        self.listener: Callable[[], None] | None = None  # told of each good reading

    def latest(self) -> PowerReading | None:
        return self._latest

    def _accept(self, watts: float) -> None:
        self.good += 1
        self._latest = PowerReading(watts, self.clock.now())
        if self.listener is not None:
            self.listener()

    def _reject(self, exc: Exception) -> None:
        self.bad += 1
        now = self.clock.now()
        if now - self._last_log >= LOG_PERIOD_S:
            self._last_log = now
            log.warning(
                "netzero meter %s: dropped bad value (%d so far): %s", self.name, self.bad, exc
            )


class MqttConsumption(_Source):
    """Fed by the netzero MQTT client with each payload on `topic`."""

    def __init__(self, cfg: MqttMeter, clock: Clock) -> None:
        super().__init__(f"mqtt:{cfg.topic}", cfg.signed, clock)
        self.cfg = cfg
        self.topic = cfg.topic

    def feed(self, payload: bytes) -> PowerReading | None:
        try:
            watts = parse_power(
                payload, self.cfg.format, self.cfg.path, self.cfg.factor, self.cfg.signed
            )
        except BadReading as exc:
            self._reject(exc)
            return None
        self._accept(watts)
        return self._latest

    async def run(self) -> None:
        await asyncio.Event().wait()  # fed by the MQTT client; nothing to poll


class HttpConsumption(_Source):
    """Polls a JSON endpoint (Shelly 3EM, Tasmota, …) every `interval` seconds."""

    def __init__(self, cfg: HttpMeter, clock: Clock, session: Any) -> None:
        super().__init__(f"http:{cfg.url}", cfg.signed, clock)
        self.cfg = cfg
        self.session = session  # aiohttp.ClientSession

    async def poll_once(self) -> PowerReading | None:
        cfg = self.cfg
        try:
            data = await request_json(self.session, "GET", cfg.url, timeout_s=cfg.timeout)
            watts = json_power(data, cfg.path, cfg.factor, cfg.signed)
        except (BadReading, DeviceError) as exc:
            self._reject(exc)
            return None
        self._accept(watts)
        return self._latest

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await self.clock.sleep(self.cfg.interval)


class SumConsumption:
    """Several meters summed (e.g. two phases metered apart); the reading is as old as the
    oldest part, and missing while any part is missing."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.signed = all(p.signed for p in self.parts)

    def latest(self) -> PowerReading | None:
        readings = [p.latest() for p in self.parts]
        if not readings or any(r is None for r in readings):
            return None
        return PowerReading(sum(r.watts for r in readings), min(r.at for r in readings))  # type: ignore[union-attr]

    @property
    def bad(self) -> int:
        return sum(getattr(p, "bad", 0) for p in self.parts)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for part in self.parts:
                tg.create_task(part.run())


def build_consumption(
    entries: Sequence[Any], clock: Clock, session: Any
) -> tuple[SumConsumption, list[MqttConsumption]]:
    """The summed source and its MQTT parts (the MQTT client feeds them by topic)."""
    parts: list[Any] = []
    mqtt_parts: list[MqttConsumption] = []
    for entry in entries:
        if entry.mqtt is not None:
            part = MqttConsumption(entry.mqtt, clock)
            mqtt_parts.append(part)
            parts.append(part)
        else:
            parts.append(HttpConsumption(entry.http, clock, session))
    return SumConsumption(parts), mqtt_parts
