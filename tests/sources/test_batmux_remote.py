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


async def test_a_clock_ahead_within_the_bound_counts_as_now(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A remote 5 s ahead: its sample counts as measured on arrival, so after the remote goes
    silent it is stale ``stale_after`` later, not ``stale_after`` + 5 s."""
    wall = [1_800_000_000.0]
    source = remote(wall)
    source.on_message(state(wall[0] + 5.0))
    assert (await source.sample()).timestamp == wall[0]
    wall[0] += 59.0
    assert (await source.sample()).soc_pct == 70
    wall[0] += 1.5  # 60.5 s after arrival: stale, although the remote's clock says 55.5 s
    with pytest.raises(NoData, match="measured 60 s ago"):
        await source.sample()
    assert "ahead" not in caplog.text
    await source.close()


async def test_a_skew_beyond_the_bound_is_stale_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wall = [1_800_000_000.0]
    source = remote(wall)
    for _ in range(3):
        source.on_message(state(wall[0] + 61.0))  # clock 61 s ahead, stale_after 60 s
        with pytest.raises(NoData):
            await source.sample()
    for _ in range(3):
        source.on_message(state(wall[0] - 61.0))  # clock 61 s behind
        with pytest.raises(NoData):
            await source.sample()
    lines = [r.getMessage() for r in caplog.records if "beyond the stale bound" in r.getMessage()]
    assert lines == [
        "far: the sample on site/far/state is 61 s ahead of this gateway's clock, "
        "beyond the stale bound of 60 s: stale"
    ]  # once per remote, until a sample within the bound arrives
    source.on_message(state(wall[0] - 2.0))
    assert (await source.sample()).timestamp == wall[0] - 2.0
    source.on_message(state(wall[0] - 61.0))
    lines = [r.getMessage() for r in caplog.records if "beyond the stale bound" in r.getMessage()]
    assert len(lines) == 2 and "61 s ago (clock behind, or retained)" in lines[1]
    await source.close()
