"""``batmux_remote`` freshness with injected clocks: a sample is as old as its measurement,
and the remote's availability topics make it ``SourceOffline`` at once."""

from __future__ import annotations

import json

import pytest

from batmux.devices.mqtt_json_source import MqttJsonSource, remote_availability_topics
from batmux.errors import NoData, SourceOffline


def remote(wall: list[float]) -> MqttJsonSource:
    source = MqttJsonSource(
        "far", "mqtt://127.0.0.1:1", "site/far/state", "batmux_remote",
        stale_after_s=60.0, clock=lambda: wall[0], wall_clock=lambda: wall[0],
    )  # fmt: skip
    return source  # no broker on port 1: its connect task just retries; fed by hand


def state(timestamp: float, available: bool = True) -> bytes:
    return json.dumps(
        {"voltage": 53.1, "current": 4.0, "soc": 70, "timestamp": timestamp, "available": available}
    ).encode()


def test_topics_of_the_remote() -> None:
    assert remote_availability_topics("a/b/far/state", "batmux_remote") == [
        "a/b/far/availability",
        "a/b/status",
    ]
    assert remote_availability_topics("a/far/state", "mqtt_json") == []
    assert remote_availability_topics("far", "batmux_remote") == []


async def test_a_retained_sample_is_as_old_as_its_measurement() -> None:
    wall = [1_800_000_000.0]
    source = remote(wall)
    source.on_message(state(wall[0] - 61.0))  # a dead remote's retained state, arriving now
    with pytest.raises(NoData, match="measured 61 s ago"):
        await source.sample()
    source.on_message(state(wall[0] - 1.0))
    assert (await source.sample()).timestamp == wall[0] - 1.0
    wall[0] += 60.5
    with pytest.raises(NoData):
        await source.sample()
    await source.close()


async def test_offline_on_either_topic_or_in_the_state_is_source_offline() -> None:
    wall = [1_800_000_000.0]
    source = remote(wall)
    source.on_message(state(wall[0]))
    for topic in ("site/status", "site/far/availability"):
        source.on_availability(topic, b"offline")
        with pytest.raises(SourceOffline, match=topic):
            await source.sample()
        source.on_availability(topic, b"online")
        assert (await source.sample()).soc_pct == 70
    source.on_message(state(wall[0], available=False))
    with pytest.raises(SourceOffline):
        await source.sample()
    await source.close()
