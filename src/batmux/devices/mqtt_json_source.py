"""A battery published as JSON on an MQTT topic, as a ``Source`` (push: latest fresh or NoData).

``kind="mqtt_json"`` reads dbus-mqtt-battery's schema, ``kind="batmux_remote"`` another
batmux's state JSON. A background task subscribes and reconnects with backoff when the broker
goes away, so a broker restart only costs the messages sent while it was down. A malformed
payload is counted as a corrupt frame and dropped; the last good sample stays until stale.

A remote batmux's sample is as old as its ``timestamp`` (when the remote measured it), not as
old as its arrival: a retained state of a dead gateway arrives "new" on every subscribe. The
remote's ``<base>/status`` (its last will) and ``<base>/<name>/availability`` are watched too:
``offline`` on either, or ``"available": false`` in the state, is ``SourceOffline`` at once.

Clock skew (docs/fleet.md): a timestamp from the future counts as measured on arrival, so a
remote whose clock runs ahead cannot keep its last sample fresh after it died; a timestamp
more than ``stale_after_s`` ahead, or one already older than ``stale_after_s`` on arrival (a
clock behind, or a retained state of a dead gateway), is stale. Each is said in one log line
per remote until a sample within the bound arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiomqtt

from batmux.devices.health import Health
from batmux.errors import ControlRefused, NoData, ProtocolError, SourceOffline
from batmux.links.lost_cancel import cancel_count, reraise_lost_cancel
from batmux.links.mqtt_url import TlsSettings, client_args, redact_url
from batmux.model.sample import BatterySample
from batmux.protocols.mqtt_json import parse_batmux_state, parse_battery_payload

log = logging.getLogger(__name__)
KINDS = ("mqtt_json", "batmux_remote")


class MqttJsonSource:
    def __init__(
        self,
        name: str,
        url: str,
        topic: str,
        kind: str = "mqtt_json",
        stale_after_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        retry_s: tuple[float, float] = (0.5, 15.0),
        tls: TlsSettings | None = None,
        tls_forced: bool = False,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.name = name
        self.url = url
        self.topic = topic
        self.kind = kind
        self.stale_after_s = stale_after_s
        self.health = Health()
        self.latest: BatterySample | None = None
        self.received_at = 0.0
        self.remote_available = True
        # batmux_remote: the remote's availability topics → is it offline (retained, so a
        # dead remote's last will arrives on every subscribe)
        self.offline: dict[str, bool] = {t: False for t in remote_availability_topics(topic, kind)}
        # the gateway judges freshness by ``sample.timestamp``: the remote's measurement time
        self.measured_timestamps = kind == "batmux_remote"
        self.connected = asyncio.Event()
        self._clock = clock
        self._wall = wall_clock
        self._retry = retry_s
        self._tls = (tls, tls_forced)  # mqtt.tls, and whether url is the root mqtt.url
        self._task: asyncio.Task[None] | None = None
        self._skew_logged = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        delay = self._retry[0]
        while True:
            try:
                before = cancel_count()
                args = client_args(self.url, *self._tls)
                async with aiomqtt.Client(**args, keepalive=30) as client:
                    await client.subscribe(self.topic)
                    for extra in self.offline:
                        await client.subscribe(extra, qos=1)  # as published: a will is never lost
                    reraise_lost_cancel(before)
                    self.health.connects += 1
                    self.connected.set()
                    delay = self._retry[0]
                    async for message in client.messages:
                        topic = str(message.topic)
                        if topic in self.offline:
                            self.on_availability(topic, message.payload)  # type: ignore[arg-type]
                        else:
                            self.on_message(message.payload)  # type: ignore[arg-type]
            except Exception as exc:  # broker gone, TLS files unreadable…: retry, never die
                if self.connected.is_set():
                    self.health.drops += 1
                self.connected.clear()
                self.health.error(f"broker: {exc}")
                where = redact_url(self.url)
                log.warning("%s: MQTT %s: %s; retrying in %.1f s", self.name, where, exc, delay)
            await asyncio.sleep(delay)
            delay = min(self._retry[1], delay * 2)

    def on_message(self, payload: bytes | str | bytearray | None) -> None:
        """Decode one payload; a bad one is counted and dropped (last good is kept)."""
        data = bytes(payload) if isinstance(payload, bytearray) else (payload or b"")
        try:
            if self.kind == "batmux_remote":
                remote = parse_batmux_state(data, self._wall())
                sample, self.remote_available = remote.sample, remote.available
            else:
                sample = parse_battery_payload(data, self._wall())
        except ProtocolError as exc:
            self.health.corrupt_frames += 1
            self.health.error(f"corrupt payload: {exc}")
            return
        except Exception as exc:  # a parser bug must cost one message, never the source task
            self.health.corrupt_frames += 1
            self.health.error(f"unreadable payload: {type(exc).__name__}: {exc!s:.80}")
            log.debug("%s: payload crashed the parser", self.name, exc_info=True)
            return
        if self.measured_timestamps:
            sample = self._judge_skew(sample)
        self.latest = sample
        self.received_at = self._clock()

    def _judge_skew(self, sample: BatterySample) -> BatterySample:
        """A future timestamp counts as now, unless it is beyond the stale bound (then stale)."""
        now = self._wall()
        ahead = sample.timestamp - now
        if ahead > self.stale_after_s:
            self._log_skew(f"is {ahead:.0f} s ahead of this gateway's clock")
            return sample.with_(timestamp=now - ahead)  # mirrored: as stale as it is skewed
        if -ahead > self.stale_after_s:
            self._log_skew(f"was measured {-ahead:.0f} s ago (clock behind, or retained)")
            return sample
        self._skew_logged = False
        return sample.with_(timestamp=min(sample.timestamp, now))

    def _log_skew(self, what: str) -> None:
        if not self._skew_logged:
            self._skew_logged = True
            log.warning(
                "%s: the sample on %s %s, beyond the stale bound of %.0f s: stale",
                self.name, self.topic, what, self.stale_after_s,
            )  # fmt: skip

    def on_availability(self, topic: str, payload: bytes | str | bytearray | None) -> None:
        """A remote's ``online``/``offline`` (anything but ``offline`` counts as online)."""
        text = bytes(payload or b"") if not isinstance(payload, str) else payload.encode()
        self.offline[topic] = text.strip().lower() == b"offline"

    async def sample(self) -> BatterySample:
        self.start()
        gone = [t for t, off in self.offline.items() if off]
        if gone:
            raise SourceOffline(f"{self.name}: {gone[0]} is offline")
        if self.latest is None:
            raise NoData(f"{self.name}: nothing on {self.topic} yet")
        if self.measured_timestamps:
            age = self._wall() - self.latest.timestamp
            what = "the sample on {} was measured {:.0f} s ago"
        else:
            age = self._clock() - self.received_at
            what = "the last message on {} is {:.0f} s old"
        if age > self.stale_after_s:
            raise NoData(f"{self.name}: {what.format(self.topic, age)}")
        if not self.remote_available:
            raise SourceOffline(f"{self.name}: the remote gateway reports it unavailable")
        self.health.samples += 1
        return self.latest

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused(f"{self.name}: an MQTT JSON battery cannot be switched")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def remote_availability_topics(topic: str, kind: str) -> list[str]:
    """``<base>/<name>/state`` → ``[<base>/<name>/availability, <base>/status]`` (remote only)."""
    parts = topic.split("/")
    if kind != "batmux_remote" or len(parts) < 3 or parts[-1] != "state" or "+" in parts:
        return []
    return ["/".join([*parts[:-1], "availability"]), "/".join([*parts[:-2], "status"])]


def create_source(battery: Any, context: Any = None) -> MqttJsonSource:
    """Registry factory for ``type: mqtt_json`` / ``batmux_remote``.

    The broker is the battery's ``url:``, else the root ``mqtt.url`` found on ``context``
    (the root ``Config``, an object with ``.config``, or ``{"gateway": ...}``), else
    ``mqtt://localhost:1883``. The root ``mqtt.tls`` applies to every ``mqtts://`` broker, and
    turns TLS on for the root broker itself, as for the MQTT sink.
    """
    from batmux.errors import ConfigError

    if not battery.topic:
        raise ConfigError(
            "<config>", f"batteries.{battery.name}.topic", f"{battery.type} needs 'topic:'"
        )
    if isinstance(context, dict):  # the runtime passes {"gateway": Gateway}
        context = context.get("config") or context.get("gateway")
    config = getattr(context, "config", context)
    mqtt = getattr(config, "mqtt", None)
    root = getattr(mqtt, "url", None)
    url = battery.url or root or "mqtt://localhost:1883"
    stale = max(float(getattr(config, "expire_after", 60.0) or 60.0), float(battery.timeout))
    return MqttJsonSource(
        battery.name,
        url,
        battery.topic,
        battery.type,
        stale_after_s=stale,
        tls=getattr(mqtt, "tls", None),
        tls_forced=url == root,
    )
