"""CPU cost per battery-sample of the history store, the InfluxDB output and the web server.

    uv run python bench/bench_observe.py [--batteries 100] [--rounds 600]

The input is ``--batteries`` published states (16 cells, 4 temperatures, limits, meters), one
publish round per simulated second (the clock is injected: ``--rounds`` seconds pass in
a fraction of that). Every figure is ``time.process_time()`` (all threads of this process)
divided by rounds × batteries, best of 3:

history      the history sink as the gateway runs it: rows built on the event loop, the
             INSERTs + COMMIT of each round in its worker thread, one file in a temp dir,
             WAL, ``synchronous=NORMAL``; roll-up/retention every 60 s (full resolution
             kept for 300 s here, so the roll-up does run during the benchmark).
influx       the InfluxDB sink: line protocol per round, the buffer, and the HTTP POSTs to a
             real ``influxd`` on loopback when installed (its own CPU is not counted); with no
             influxd, only line building + buffer.
api          ``GET /api/batteries`` and ``GET /metrics`` answered by the running aiohttp
             server to a client in another process-free loop (client CPU counted too): per
             request, not per sample.
events       the dashboard's live feed: ``/api/events`` with 1 and 3 clients reading every
             round (server-sent events; client CPU counted too), per battery-sample.
chart        ``/api/history?hours=H&points=600`` with the dashboard's four values for one battery
             over a week of 1 Hz rows (the last 24 h at full resolution, older rows rolled up
             as the gateway does), per request; and the page itself (``GET /``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.runtime.hub import StateHub
from batmux.sinks.history import HistoryWriter
from batmux.sinks.history_store import HistoryStore, state_row

T0 = 1_700_000_000.0


def states(count: int, i: int) -> list[BatteryState]:
    out = []
    for b in range(count):
        sample = BatterySample(
            timestamp=T0 + i,
            voltage_v=52.0 + (b % 7) * 0.1,
            current_a=10.0 * ((i + b) % 5 - 2),
            soc_pct=float((i + b) % 100),
            charge_ah=50.0,
            capacity_ah=100.0,
            cycles=12,
            cell_voltages_v=tuple(3.25 + 0.001 * ((c * b + i) % 40) for c in range(16)),
            temperatures_c=(21.0, 22.5, 23.0, 24.0),
            mos_temperature_c=30.0,
            charge_enabled=True,
            discharge_enabled=True,
            balancing=False,
        )
        out.append(
            BatteryState(
                name=f"battery{b:03d}",
                available=True,
                sample=sample,
                meters=Meters(charged_kwh=1.0 + i * 0.001, discharged_kwh=2.0),
                limits=ChargeLimits(
                    charge_voltage_v=56.0, charge_current_a=100.0, discharge_current_a=150.0
                ),
                diagnostics={"samples": i, "errors": 0, "timeouts": 0},
            )
        )
    return out


def best(runs: list[float]) -> float:
    return min(runs)


async def bench_history(count: int, rounds: int, rounds_states: list[list[BatteryState]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "history.sqlite"
        writer = HistoryWriter(lambda: HistoryStore(store_path, full_resolution_s=300, bucket_s=60))
        start = time.process_time()
        for i in range(rounds):
            t = T0 + i
            rows = [r for r in (state_row(s, t) for s in rounds_states[i % 60]) if r]
            await writer.write(rows, t)
        used = time.process_time() - start
        assert writer.errors == 0, writer.last_error
        _, rollup = writer.store.count()
        assert rollup > 0, "the roll-up never ran"
        writer.close()
    return used / (rounds * count)


async def bench_influx(
    count: int, rounds: int, rounds_states: list[list[BatteryState]], http: bool
) -> tuple[float, str]:
    from batmux.sinks.influxdb import InfluxSink
    from batmux.sinks.observe_config import InfluxConfig
    from influx_process import start_influxd

    with tempfile.TemporaryDirectory() as tmp:
        server = start_influxd(Path(tmp) / "influxd") if http else None
        url = server.url if server else "http://127.0.0.1:9"
        if server:
            server.query("CREATE DATABASE bench")
        sink = InfluxSink(InfluxConfig(url=url, database="bench"), Path(tmp) / "buffer")
        sender = asyncio.create_task(sink.sender()) if server else None
        sink.connected = True  # no disk spill: the server is up (or not measured)
        start = time.process_time()
        for i in range(rounds):
            sink.add_round(rounds_states[i % 60], T0 + i)
            if sender is not None and i % 10 == 9:
                while sink.buffer.points:  # a 1 Hz gateway leaves the sender a second
                    await asyncio.sleep(0.001)
        if sender is not None:
            while sink.buffer.points:
                await asyncio.sleep(0.001)
        used = time.process_time() - start
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            assert sink.sent == rounds * count, sink.status()
            server.stop()  # type: ignore[union-attr]
        what = "with HTTP to influxd" if server else "lines + buffer only (no influxd)"
        return used / (rounds * count), what


async def bench_api(count: int, requests: int) -> dict[str, float]:
    import aiohttp

    from batmux.sinks.observe_config import WebConfig
    from batmux.web.server import WebContext, run_web
    from broker_process import free_port

    class Gw:
        def __init__(self) -> None:
            self.hub = StateHub()
            self.link_status: dict[str, Any] = {}
            self.clock = time.time

    gw = Gw()
    gw.hub.publish(states(count, 1))
    port = free_port()
    ctx = WebContext(gw, WebConfig(listen=f"127.0.0.1:{port}"))
    server = asyncio.create_task(run_web(ctx))
    out = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    await r.read()
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        for path in ("api/batteries", "metrics"):
            start = time.process_time()
            for _ in range(requests):
                async with http.get(f"http://127.0.0.1:{port}/{path}") as r:
                    body = await r.read()
            out[path] = (time.process_time() - start) / requests
            out[f"{path} bytes"] = len(body)
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    return out


class BenchGateway:
    """What the web server reads of a gateway: the hub, link status and the clock."""

    def __init__(self) -> None:
        self.hub = StateHub()
        self.link_status: dict[str, Any] = {}
        self.batteries: dict[str, Any] = {}
        self.clock = time.time


async def serving(ctx: Any, port: int) -> asyncio.Task[None]:
    import aiohttp

    from batmux.web.server import run_web

    server = asyncio.create_task(run_web(ctx))
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    await r.read()
                return server
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the web server did not start")


async def bench_events(count: int, rounds: int, clients: int) -> float:
    """CPU per battery-sample of the SSE feed with ``clients`` readers (their CPU included)."""
    import aiohttp

    from batmux.sinks.observe_config import WebConfig
    from batmux.web.server import WebContext
    from broker_process import free_port

    gw = BenchGateway()
    gw.hub.publish(states(count, 0))
    port = free_port()
    server = await serving(WebContext(gw, WebConfig(listen=f"127.0.0.1:{port}")), port)
    pre = [states(count, i) for i in range(10)]
    got = [0] * clients

    async def reader(k: int, http: aiohttp.ClientSession) -> None:
        async with http.get(f"http://127.0.0.1:{port}/api/events") as r:
            async for line in r.content:
                if line.startswith(b"event: state"):
                    got[k] += 1

    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(reader(k, http)) for k in range(clients)]
        while min(got) < 1:
            await asyncio.sleep(0.01)
        start = time.process_time()
        for i in range(rounds):
            target = min(got) + 1
            gw.hub.publish(pre[i % 10])
            while min(got) < target:  # every client has this round before the next one
                await asyncio.sleep(0.0005)
        used = time.process_time() - start
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    return used / (rounds * count)


async def bench_chart(count: int, requests: int) -> dict[str, Any]:
    """``/api/history`` over a week of 1 Hz rows of one battery, thinned to 600 points."""
    import aiohttp

    from batmux.sinks.observe_config import WebConfig
    from batmux.web.server import WebContext
    from broker_process import free_port

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        store = HistoryStore(path, full_resolution_s=86400, bucket_s=300)
        one = states(1, 0)[0]
        now = T0 + 7 * 86400
        for hour in range(7 * 24):  # a week at 1 Hz, an hour per transaction
            t0 = T0 + hour * 3600
            store.write_round([state_row(one, t0 + i) for i in range(3600)])  # type: ignore[misc]
        store.maintain(now)
        store.close()
        writer = HistoryWriter(lambda: HistoryStore(path))
        gw = BenchGateway()
        gw.clock = lambda: now
        gw.hub.publish(states(count, 1))
        port = free_port()
        ctx = WebContext(gw, WebConfig(listen=f"127.0.0.1:{port}"), history=writer)
        server = await serving(ctx, port)
        base = f"http://127.0.0.1:{port}/"
        query = "api/history?battery=battery000&values=soc,power,voltage,cell_delta&hours="
        paths = {f"history {h} h": f"{query}{h}&points=600" for h in (1, 24, 168)}
        paths["history 24 h, all points"] = f"{query}24"  # what a chart without points= costs
        paths["page /"] = ""
        async with aiohttp.ClientSession() as http:
            for name, url in paths.items():
                runs = []
                for _ in range(3):
                    start, wall = time.process_time(), time.perf_counter()
                    for _ in range(requests):
                        async with http.get(base + url) as r:
                            body = await r.read()
                            assert r.status == 200, body[:200]
                    runs.append(
                        ((time.process_time() - start) / requests,
                         (time.perf_counter() - wall) / requests)
                    )  # fmt: skip
                out[name] = (*min(runs), len(body))
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        writer.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batteries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    pre = [states(args.batteries, i) for i in range(60)]
    history = best([await bench_history(args.batteries, args.rounds, pre) for _ in range(3)])
    influx_runs = [await bench_influx(args.batteries, args.rounds, pre, True) for _ in range(3)]
    influx = best([r[0] for r in influx_runs])
    api = await bench_api(args.batteries, args.requests)
    n = args.batteries
    lines = best([(await bench_influx(n, args.rounds, pre, http=False))[0] for _ in range(3)])

    def row(name: str, cost: float, note: str = "") -> None:
        share = cost * n * 100
        print(f"{name:9s} {cost * 1e6:6.1f} µs per battery-sample = {share:.2f} % core {note}")

    print(f"{n} batteries, {args.rounds} rounds (1 per simulated second), best of 3")
    row("history", history)
    row("influx", influx, f"({influx_runs[0][1]})")
    row("influx", lines, "(line protocol + buffer only)")
    for path in ("api/batteries", "metrics"):
        size = api[f"{path} bytes"] / 1024
        print(f"GET /{path:14s} {api[path] * 1e3:6.2f} ms CPU per request ({size:.0f} KiB)")
    for clients in (1, 3):
        runs = [await bench_events(n, min(args.rounds, 200), clients) for _ in range(3)]
        row("events", best(runs), f"(/api/events, {clients} client(s) reading every round)")
    chart = await bench_chart(n, max(args.requests // 5, 3))
    for name, (cpu, wall, size) in chart.items():
        print(
            f"GET {name:25s} {cpu * 1e3:7.2f} ms CPU, {wall * 1e3:7.2f} ms wall "
            f"per request ({size / 1024:.0f} KiB)"
        )


if __name__ == "__main__":
    asyncio.run(main())
