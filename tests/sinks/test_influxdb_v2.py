"""The InfluxDB v2 write API against a small fake v2 endpoint (aiohttp), and what a broken
server does to the output: HTTP 500 and garbage are counted and retried, order is kept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from batmux.sinks.influxdb import InfluxSink, write_request
from batmux.sinks.observe_config import InfluxConfig
from broker_process import free_port
from sinks.influx_helpers import T0, publish_round, sim_gateway, until
from sinks.test_influxdb_real import sink_running

FAST = (0.05, 0.1)


class FakeV2:
    """``POST /api/v2/write``: records every request; answers ``status`` (204 by default)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[str] = []  # lines of 2xx answers, in arrival order
        self.status = 204

    async def write(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        self.requests.append(
            {
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "body": body,
            }
        )
        if self.status == 204:
            self.accepted.extend(body.splitlines())
            return web.Response(status=204)
        return web.Response(status=self.status, text='{"code":"internal error"}')


@contextlib.asynccontextmanager
async def serving(fake: FakeV2, port: int) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/v2/write", fake.write)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def v2_section(url: str) -> dict[str, Any]:
    return {"url": url, "org": "home", "bucket": "batteries", "token": "s3cret-token"}


def test_write_requests_for_v1_and_v2() -> None:
    v1 = InfluxConfig(
        url="http://db:8086/",
        database="batmux",
        retention_policy="week",
        username="u",
        password="p",
    )
    assert write_request(v1)[:2] == (
        "http://db:8086/write",
        {"db": "batmux", "precision": "ms", "rp": "week", "u": "u", "p": "p"},
    )
    v2 = InfluxConfig(**v2_section("http://db:8086"))
    url, params, headers = write_request(v2)
    assert url == "http://db:8086/api/v2/write"
    assert params == {"org": "home", "bucket": "batteries", "precision": "ms"}
    assert headers["Authorization"] == "Token s3cret-token"


async def test_v2_write_carries_org_bucket_token_and_the_state(tmp_path: Path) -> None:
    fake = FakeV2()
    async with serving(fake, free_port()) as url:
        gateway = sim_gateway(tmp_path, influxdb=v2_section(url))
        assert gateway.config.influxdb is not None
        sink = InfluxSink(gateway.config.influxdb, tmp_path / "buf", backoff_s=FAST)
        async with sink_running(sink, gateway):
            states = await publish_round(gateway, T0)
            await until(lambda: sink.sent == 2)
    request = fake.requests[0]
    assert request["query"] == {"org": "home", "bucket": "batteries", "precision": "ms"}
    assert request["auth"] == "Token s3cret-token"
    garage = next(line for line in fake.accepted if line.startswith("battery,battery=garage "))
    sample = next(s for s in states if s.name == "garage").sample
    assert sample is not None
    assert f"soc={float(sample.soc_pct)!r}" in garage  # type: ignore[arg-type]
    assert f"current={sample.current_a!r}" in garage
    assert garage.endswith(f" {int(T0 * 1000)}")


async def test_http_500_is_counted_and_retried_and_order_is_kept(tmp_path: Path) -> None:
    fake = FakeV2()
    fake.status = 500
    async with serving(fake, free_port()) as url:
        gateway = sim_gateway(tmp_path, influxdb=v2_section(url))
        assert gateway.config.influxdb is not None
        sink = InfluxSink(gateway.config.influxdb, tmp_path / "buf", backoff_s=FAST)
        async with sink_running(sink, gateway):
            for i in range(5):
                await publish_round(gateway, T0 + 5 * i)
                await until(lambda n=i: sink.buffer.points == 2 * (n + 1))
            await until(lambda: sink.errors >= 3)
            assert sink.status()["last_error"].startswith("HTTP 500")
            assert not sink.connected and sink.sent == 0
            fake.status = 204
            await until(lambda: sink.sent == 10)
            await publish_round(gateway, T0 + 25)
            await until(lambda: sink.sent == 12)
    times = [int(line.rsplit(" ", 1)[1]) for line in fake.accepted]
    assert times == sorted(times) and len(times) == 12
    assert times[::2] == [int((T0 + 5 * i) * 1000) for i in range(6)]
    assert sink.status()["points_dropped"] == 0


async def test_400_drops_only_the_refused_batch(tmp_path: Path) -> None:
    fake = FakeV2()
    fake.status = 400
    async with serving(fake, free_port()) as url:
        gateway = sim_gateway(tmp_path, influxdb=v2_section(url))
        assert gateway.config.influxdb is not None
        sink = InfluxSink(gateway.config.influxdb, tmp_path / "buf", backoff_s=FAST)
        async with sink_running(sink, gateway):
            await publish_round(gateway, T0)
            await until(lambda: sink.rejected == 2)
            fake.status = 204
            await publish_round(gateway, T0 + 5)
            await until(lambda: sink.sent == 2)
    assert sink.status()["points_rejected"] == 2 and sink.buffer.points == 0


async def test_garbage_answers_never_crash_the_output(tmp_path: Path) -> None:
    """A server answering bytes that are not HTTP: errors counted, the points kept."""
    hits = 0

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal hits
        hits += 1
        await reader.read(100)
        writer.write(b"\x00\xffnot http at all\r\n\r\n\x13\x37")
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(garbage, "127.0.0.1", port)
    async with server:
        gateway = sim_gateway(tmp_path, influxdb=v2_section(f"http://127.0.0.1:{port}"))
        assert gateway.config.influxdb is not None
        sink = InfluxSink(gateway.config.influxdb, tmp_path / "buf", backoff_s=FAST)
        async with sink_running(sink, gateway) as running_sink:
            await publish_round(gateway, T0)
            await until(lambda: running_sink.errors >= 3 and hits >= 3)
            await publish_round(gateway, T0 + 5)
            await until(lambda: running_sink.buffer.points == 4)
    assert sink.sent == 0 and sink.status()["points_dropped"] == 0
    assert len(list((tmp_path / "buf").glob("*.json"))) == 2  # kept on disk for later


async def test_the_buffer_bound_drops_the_oldest_and_reports_it(tmp_path: Path) -> None:
    from batmux.web.metrics import build_metrics

    fake = FakeV2()
    fake.status = 503
    async with serving(fake, free_port()) as url:
        gateway = sim_gateway(tmp_path, influxdb={**v2_section(url), "buffer_points": 4})
        assert gateway.config.influxdb is not None
        sink = InfluxSink(gateway.config.influxdb, tmp_path / "buf", backoff_s=FAST)
        async with sink_running(sink, gateway):
            for i in range(5):
                await publish_round(gateway, T0 + 5 * i)
                await until(lambda n=i: sink.buffer.points + sink.buffer.dropped == 2 * (n + 1))
            assert sink.status()["points_dropped"] == 6
            assert sink.status()["points_buffered"] == 4
            text = build_metrics([], sinks={"influxdb": sink.status()})
            assert 'batmux_sink_points_dropped_total{sink="influxdb"} 6' in text
            fake.status = 204
            await until(lambda: sink.sent == 4)
    times = sorted({int(line.rsplit(" ", 1)[1]) for line in fake.accepted})
    assert times == [int((T0 + 15) * 1000), int((T0 + 20) * 1000)]  # the two newest rounds
