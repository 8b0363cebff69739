"""Publish batteries/groups in dbus-mqtt-battery's JSON schema (``mqtt_json_output:``).

A thin shell around ``build_payload``: after every hub publish, each configured battery that
has a sample goes out on its topic. Reconnects with backoff; snapshots published while the
broker is away are skipped (the next one carries the current state anyway).

A state that turned unavailable keeps its last values with 0 A limits, so the stale payload
goes out like any other. One that has no sample at all (nothing measured since start) cannot
fill the schema: a retained output's topic is cleared once instead, so no retained payload
from before a restart keeps offering its limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiomqtt

from batmux.links.lost_cancel import cancel_count, reraise_lost_cancel
from batmux.links.mqtt_url import TlsSettings, client_args, redact_url
from batmux.protocols.mqtt_json import build_payload
from batmux.runtime.hub import Snapshot, StateHub
from batmux.sinks import json_text as json  # dumps: null for NaN/inf, strict JSON
from batmux.sinks.mqtt_json_config import MqttJsonOutputConfig

log = logging.getLogger(__name__)


def build_messages(
    snapshot: Snapshot, outputs: Sequence[MqttJsonOutputConfig]
) -> list[tuple[str, str, bool]]:
    """(topic, JSON payload, retain) for every output whose battery has a sample."""
    out = []
    for output in outputs:
        state = snapshot.get(output.battery)
        if state is None or state.sample is None:
            continue
        payload = json.dumps(build_payload(state), separators=(",", ":"))
        out.append((output.topic, payload, output.retain))
    return out


def stale_retained(
    snapshot: Snapshot, outputs: Sequence[MqttJsonOutputConfig], cleared: set[str]
) -> list[str]:
    """Retained topics whose battery has no sample to publish (and not cleared yet)."""
    return [
        output.topic
        for output in outputs
        if output.retain
        and output.topic not in cleared
        and (state := snapshot.get(output.battery)) is not None
        and state.sample is None
    ]


class MqttJsonOutput:
    """All outputs that share one broker URL."""

    def __init__(
        self,
        hub: StateHub,
        url: str,
        outputs: Sequence[MqttJsonOutputConfig],
        retry_s: tuple[float, float] = (0.5, 15.0),
        tls: TlsSettings | None = None,
        tls_forced: bool = False,
    ) -> None:
        self.hub = hub
        self.url = url
        self.outputs = list(outputs)
        self.published = 0
        self._retry = retry_s
        self._tls = (tls, tls_forced)  # mqtt.tls, and whether url is the root mqtt.url

    async def run(self) -> None:
        delay = self._retry[0]
        while True:
            try:
                before = cancel_count()
                args = client_args(self.url, *self._tls)
                async with aiomqtt.Client(**args, keepalive=30) as client:
                    reraise_lost_cancel(before)
                    delay = self._retry[0]
                    cleared: set[str] = set()
                    async for snapshot in self.hub.updates():
                        for topic in stale_retained(snapshot, self.outputs, cleared):
                            await client.publish(topic, b"", retain=True)  # deletes it
                            cleared.add(topic)
                        for topic, payload, retain in build_messages(snapshot, self.outputs):
                            cleared.discard(topic)
                            await client.publish(topic, payload, retain=retain)
                            self.published += 1
                        reraise_lost_cancel(before)
            except aiomqtt.MqttError as exc:
                where = redact_url(self.url)
                log.warning("mqtt_json_output %s: %s; retrying in %.1f s", where, exc, delay)
            await asyncio.sleep(delay)
            delay = min(self._retry[1], delay * 2)


def create_outputs(
    hub: StateHub,
    outputs: Sequence[MqttJsonOutputConfig],
    default_url: str,
    tls: TlsSettings | None = None,
) -> list[MqttJsonOutput]:
    """One publisher per broker; run each ``.run()`` in the runtime's TaskGroup. ``tls`` (the
    root ``mqtt.tls``) applies to ``mqtts://`` brokers and turns TLS on for ``default_url``."""
    by_url: dict[str, list[MqttJsonOutputConfig]] = {}
    for output in outputs:
        by_url.setdefault(output.url or default_url, []).append(output)
    return [
        MqttJsonOutput(hub, url, group, tls=tls, tls_forced=url == default_url)
        for url, group in by_url.items()
    ]


async def run_mqtt_json_output(gateway: Any) -> None:
    """Sink factory for ``Gateway.add_sink``: all ``mqtt_json_output`` entries, by broker."""
    config = gateway.config
    mqtt = config.mqtt
    default_url = mqtt.url if mqtt is not None else "mqtt://localhost:1883"
    tls = mqtt.tls if mqtt is not None else None
    outputs = create_outputs(gateway.hub, config.mqtt_json_output, default_url, tls)
    async with asyncio.TaskGroup() as tg:
        for output in outputs:
            tg.create_task(output.run())
