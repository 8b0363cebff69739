"""``batmux inject PACK FAULT [--for S]``: ask a running gateway (through its MQTT broker) to
inject a commissioning fault, and wait until its state JSON shows it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt

from batmux.config import Config
from batmux.errors import BatmuxError
from batmux.sinks.mqtt import client_kwargs


async def send_injection(
    config: Config, pack: str, fault: str, for_s: float | None, wait_s: float = 10.0
) -> str:
    """Publish the request; returns what the gateway confirmed (raises BatmuxError if not)."""
    if config.mqtt is None:
        raise BatmuxError("the config has no mqtt: section; the gateway takes injections there")
    base = config.mqtt.base_topic
    request: dict[str, Any] = {"fault": fault}
    if for_s is not None:
        request["for"] = for_s
    state_topic = f"{base}/{pack}/state"
    try:
        async with aiomqtt.Client(**client_kwargs(config.mqtt, role="inject")) as client:
            await client.subscribe(state_topic)
            await client.publish(f"{base}/{pack}/inject/set", json.dumps(request), qos=1)
            if fault == "stale":  # no sample carries it: the battery just goes stale
                return "sent (the battery goes stale after its stale_after bound)"
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    shown = _injected(bytes(message.payload or b""))
                    if shown == (None if fault == "clear" else fault):
                        return f"confirmed: {pack} shows {shown or 'no injected fault'}"
    except TimeoutError:
        raise BatmuxError(
            f"the gateway did not confirm within {wait_s:g} s (is allow_inject set for "
            f"{pack!r} and the gateway running?)"
        ) from None
    except aiomqtt.MqttError as exc:
        raise BatmuxError(f"MQTT: {exc}") from None
    raise BatmuxError("the broker closed the connection")


def _injected(payload: bytes) -> str | None:
    try:
        state = json.loads(payload)
    except ValueError:
        return None
    value = state.get("injected_fault") if isinstance(state, dict) else None
    return value if isinstance(value, str) else None
