"""The InfluxDB output against a real InfluxDB 1.x server (Debian's ``influxd``), queried back
with InfluxQL; the server stopped mid-run and restarted loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from batmux.model.state import BatteryState
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sinks.influxdb import InfluxSink
from influx_process import Influxd, influxd_binary, start_influxd
from mqtt_helpers import running
from sinks.influx_helpers import T0, publish_round, sim_gateway, until

pytestmark = pytest.mark.skipif(
    influxd_binary() is None, reason="influxd not installed (Debian package 'influxdb')"
)
FAST = (0.05, 0.1, 0.2)


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    server = start_influxd(tmp_path / "influxd")
    assert server is not None
    server.query("CREATE DATABASE batmux")
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def sink_running(sink: InfluxSink, gateway: Gateway) -> AsyncIterator[InfluxSink]:
    task = asyncio.create_task(sink.run(gateway))
    await asyncio.sleep(0)  # subscribed to the hub before the first publish
    try:
        yield sink
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def expected(state: BatteryState, t: float) -> dict[str, Any]:
    s = state.sample
    assert s is not None
    out = {
        "time": int(t * 1000),
        "battery": state.name,
        "online": state.available,
        "soc": s.soc_pct,
        "voltage": s.voltage_v,
        "current": s.current_a,
        "power": s.power_w,
        "cell_min": min(s.cell_voltages_v),
        "cell_max": max(s.cell_voltages_v),
        "charged_kwh": state.meters.charged_kwh,
    }
    out.update({f"cell{i}": v for i, v in enumerate(s.cell_voltages_v, 1)})
    return out


def stored(server: Influxd, name: str) -> list[dict[str, Any]]:
    return server.rows(f"SELECT * FROM battery WHERE battery = '{name}' ORDER BY time", "batmux")


def assert_points(server: Influxd, published: list[tuple[float, list[BatteryState]]]) -> None:
    for name in ("garage", "rv"):
        want = [expected(s, t) for t, states in published for s in states if s.name == name]
        got = stored(server, name)
        assert [r["time"] for r in got] == [p["time"] for p in want], name
        for row, point in zip(got, want, strict=True):
            for key, value in point.items():
                assert row[key] == pytest.approx(value), (name, key)


async def test_points_queried_back_equal_the_published_state(
    tmp_path: Path, influxd: Influxd
) -> None:
    gateway = sim_gateway(tmp_path, influxdb={"url": influxd.url, "database": "batmux"})
    assert gateway.config.influxdb is not None
    sink = InfluxSink(gateway.config.influxdb, tmp_path / "buffer", backoff_s=FAST)
    published = []
    async with sink_running(sink, gateway):
        for i in range(4):
            t = T0 + 5 * i
            published.append((t, await publish_round(gateway, t)))
            await until(lambda n=i: sink.sent == 2 * (n + 1))
    assert_points(influxd, published)
    assert sink.status()["points_dropped"] == 0 and sink.status()["errors"] == 0
    garage = stored(influxd, "garage")[0]
    assert garage["current"] == pytest.approx(12.5, abs=0.05) and garage["soc"] > 50
    assert stored(influxd, "rv")[0]["current"] == pytest.approx(-7.0, abs=0.05)


async def test_server_down_then_back_loses_nothing_even_across_a_restart(
    tmp_path: Path, influxd: Influxd
) -> None:
    gateway = sim_gateway(tmp_path, influxdb={"url": influxd.url, "database": "batmux"})
    config = gateway.config.influxdb
    assert config is not None
    published = []
    buffer_dir = tmp_path / "buffer"
    sink = InfluxSink(config, buffer_dir, backoff_s=FAST)
    async with sink_running(sink, gateway):
        for i in range(3):
            published.append((T0 + 5 * i, await publish_round(gateway, T0 + 5 * i)))
            await until(lambda n=i: sink.sent == 2 * (n + 1))
        influxd.stop()  # down mid-run
        for i in range(3, 7):
            published.append((T0 + 5 * i, await publish_round(gateway, T0 + 5 * i)))
            await until(lambda n=i: sink.buffer.points == 2 * (n - 2) and not sink.connected)
        assert sink.errors > 0 and sink.status()["points_buffered"] == 8
    # the gateway stopped too; the buffer is on disk, one atomic file per round
    assert len(list(buffer_dir.glob("*.json"))) == 4
    influxd.start()
    sink = InfluxSink(config, buffer_dir, backoff_s=FAST)  # a restarted gateway
    async with sink_running(sink, gateway):
        # the 8 buffered points, plus the hub's latest round once more (same time: InfluxDB
        # overwrites it with the same values)
        await until(lambda: sink.sent >= 8 and not sink.buffer.points)
        before = sink.sent
        published.append((T0 + 35, await publish_round(gateway, T0 + 35)))
        await until(lambda: sink.sent == before + 2)
    assert_points(influxd, published)
    assert not list(buffer_dir.glob("*.json"))
    assert sink.status()["points_dropped"] == 0


async def test_wired_gateway_writes_while_running(tmp_path: Path, influxd: Influxd) -> None:
    """The sink as ``batmux run`` wires it: real sampling and publishing, no hand-driving."""
    from batmux.config import parse_config

    config = parse_config(
        {
            "state_dir": str(tmp_path / "state"),
            "sample_period": 0.1,
            "publish_period": 0.3,
            "influxdb": {"url": influxd.url, "database": "batmux", "measurement": "bank 1"},
            "batteries": [{"name": "shed", "type": "jbd", "sim": {"cells": 4, "current": 3.0}}],
        },
        "test.yaml",
    )
    gateway = Gateway(config)
    wire(gateway)
    async with running(gateway):
        await until(lambda: bool(influxd.rows('SELECT * FROM "bank 1"', "batmux")))
        state = gateway.hub.latest("shed")
    rows = influxd.rows('SELECT * FROM "bank 1"', "batmux")
    assert rows[0]["battery"] == "shed" and rows[0]["cell4"] > 3.0
    assert rows[0]["current"] == pytest.approx(3.0, abs=0.05)
    assert state is not None and state.available


async def test_retention_policy_and_credentials_reach_the_server(
    tmp_path: Path, influxd: Influxd
) -> None:
    # INF: the test's timestamps are from 2023, beyond any short policy (a 7d one answers 400)
    influxd.query('CREATE RETENTION POLICY "keep" ON "batmux" DURATION INF REPLICATION 1')
    section = {
        "url": influxd.url,
        "database": "batmux",
        "retention_policy": "keep",
        "username": "batmux",  # auth is off on the test server: accepted and ignored
        "password": "secret",
    }
    gateway = sim_gateway(tmp_path, influxdb=section)
    assert gateway.config.influxdb is not None
    sink = InfluxSink(gateway.config.influxdb, tmp_path / "buffer", backoff_s=FAST)
    async with sink_running(sink, gateway):
        states = await publish_round(gateway, T0)
        await until(lambda: sink.sent == 2)
    stored_rows = influxd.rows('SELECT soc FROM "keep"."battery" ORDER BY time', "batmux")
    assert len(stored_rows) == 2
    assert not influxd.rows('SELECT soc FROM "autogen"."battery"', "batmux")
    socs = sorted(s.sample.soc_pct for s in states if s.sample is not None)  # type: ignore[misc]
    assert sorted(r["soc"] for r in stored_rows) == pytest.approx(socs)


async def test_points_the_server_refuses_are_counted_and_do_not_block_later_ones(
    tmp_path: Path, influxd: Influxd
) -> None:
    """influxd answers 400 ("points beyond retention policy dropped") for points older than
    a 7-day policy: that batch is counted as rejected and the next round still arrives."""
    influxd.query('CREATE RETENTION POLICY "short" ON "batmux" DURATION 7d REPLICATION 1')
    section = {"url": influxd.url, "database": "batmux", "retention_policy": "short"}
    gateway = sim_gateway(tmp_path, influxdb=section)
    assert gateway.config.influxdb is not None
    sink = InfluxSink(gateway.config.influxdb, tmp_path / "buffer", backoff_s=FAST)
    now = time.time()
    async with sink_running(sink, gateway):
        await publish_round(gateway, T0)  # 2023: beyond 7 days
        await until(lambda: sink.rejected == 2)
        await publish_round(gateway, now)
        await until(lambda: sink.sent == 2)
    assert "beyond retention policy" in sink.status()["last_error"]
    rows = influxd.rows('SELECT soc FROM "short"."battery"', "batmux")
    assert [r["time"] for r in rows] == [int(now * 1000)] * 2
