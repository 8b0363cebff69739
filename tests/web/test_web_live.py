"""The dashboard's server side through a real HTTP client against a running gateway with
simulated batteries: server-sent events, thinned history, the frame capture download, the
switch endpoint and a prompt shutdown with a client still listening."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from batmux.devices.capture import read_capture
from batmux.sinks.history_store import HistoryStore
from web.test_web_server import BATTERIES, TOKEN, gateway_web


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    """The data of the next ``count`` ``state`` events of an open event stream."""
    events: list[dict[str, Any]] = []
    kind, data = "", ""
    async with asyncio.timeout(5):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and kind:
                if kind == "state":
                    events.append(json.loads(data))
                kind, data = "", ""
    return events


async def test_events_stream_every_publish_round_with_the_token_under_a_prefix(
    tmp_path: Path,
) -> None:
    async with (
        gateway_web(tmp_path, host="0.0.0.0", token=TOKEN, base_path="/ha/") as (_, base),
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{base}api/events") as refused:
            assert refused.status == 401
        async with http.get(f"{base}api/events?token={TOKEN}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream"
            first, second, third = await read_events(response, 3)
    assert {b["name"] for b in first["batteries"]} == {"garage", "rv"}
    assert second["time"] < third["time"]
    garage = next(b for b in third["batteries"] if b["name"] == "garage")
    assert garage["current"] == pytest.approx(12.5, abs=0.05) and len(garage["cell_voltages"]) == 4
    assert third["sinks"]["history"]["errors"] == 0


async def test_history_points_are_thinned_on_the_server(tmp_path: Path) -> None:
    now = time.time()
    store = HistoryStore(tmp_path / "state" / "history.sqlite")
    # a week at one round per 10 s: 60,480 rows, with a single spike to 99 % SoC
    rows = [("rv", now - 7 * 86400 + i * 10, 1, 50.0, 26.0, 1.0, 26.0, 3.2, 3.3, 0.1, 20.0)
            for i in range(60_480)]  # fmt: skip
    rows[30_000] = (*rows[30_000][:3], 99.0, *rows[30_000][4:])
    store.write_round(rows)
    store.close()
    async with gateway_web(tmp_path) as (_, base), aiohttp.ClientSession() as http:
        url = f"{base}api/history?battery=rv&hours=168&values=soc&points=500"
        async with http.get(url) as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(f"{base}api/history?battery=rv&hours=1&points=nope") as bad:
            assert bad.status == 400
    points = body["points"]
    assert 400 < len(points) <= 501
    assert max(p["soc_max"] for p in points) == 99.0  # the spike survives the thinning
    assert sum(p["n"] for p in points) > 60_000  # all but the oldest seconds before start
    assert set(points[0]) == {"t", "n", "online", "soc", "soc_min", "soc_max"}


async def test_the_frame_capture_downloads_as_a_capture_file(tmp_path: Path) -> None:
    async with gateway_web(tmp_path) as (_, base), aiohttp.ClientSession() as http:
        async with http.get(f"{base}api/capture") as response:
            listing = await response.json()
        assert {c["name"] for c in listing} == {"garage", "rv"}
        assert all(c["chunks"] > 0 and c["url"] == f"api/capture/{c['name']}" for c in listing)
        async with http.get(f"{base}api/capture/rv") as response:
            assert response.status == 200
            disposition = response.headers["Content-Disposition"]
            text = await response.text()
        async with http.get(f"{base}api/capture/nope") as missing:
            assert missing.status == 404
    assert disposition.startswith('attachment; filename="rv-') and disposition.endswith('.jsonl"')
    path = tmp_path / "rv.jsonl"
    path.write_text(text)
    header = json.loads(text.splitlines()[0])
    assert header == {"capture": 1, "device": "rv", "protocol": "jbd"}
    entries = read_capture(path)  # what `batmux decode --capture` reads
    assert any(e.direction == "rx" and e.hex.startswith("dd") for e in entries)


async def test_switches_change_only_with_allow_control(tmp_path: Path) -> None:
    batteries = [{**b, "allow_control": b["name"] == "garage"} for b in BATTERIES]
    async with (
        gateway_web(tmp_path, batteries) as (gateway, base),
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            f"{base}api/batteries/rv/switch/charge", json={"on": False}
        ) as refused:
            assert refused.status == 403 and "allow_control" in (await refused.json())["error"]
        url = f"{base}api/batteries/garage/switch/charge"
        async with http.post(url, data="on=false") as form:
            assert form.status == 415  # a plain cross-site form post is never accepted
        async with http.post(f"{base}api/batteries/garage/switch/heater", json={"on": 1}) as nope:
            assert nope.status == 404
        async with http.post(url, json={"on": "off"}) as bad:
            assert bad.status == 400
        rebound = {"Host": "attacker.example:8080"}  # DNS rebinding: a name, no token
        async with http.post(url, json={"on": False}, headers=rebound) as rebinding:
            assert rebinding.status == 403 and "token" in (await rebinding.json())["error"]
        async with http.post(url, json={"on": False}) as done:
            assert done.status == 200, await done.text()
        for _ in range(100):
            state = gateway.hub.latest("garage")
            if state and state.sample and state.sample.charge_enabled is False:
                break
            await asyncio.sleep(0.05)
        assert state is not None and state.sample is not None
        assert state.sample.charge_enabled is False


async def test_an_open_event_stream_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    http = aiohttp.ClientSession()
    try:
        async with gateway_web(tmp_path) as (_, base):
            response = await http.get(f"{base}api/events")
            await read_events(response, 1)
            started = time.monotonic()
        assert time.monotonic() - started < 2.0
        response.close()
    finally:
        await http.close()
