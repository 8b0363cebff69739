"""The web server of a running gateway with simulated batteries, through a real HTTP client:
the JSON API, /metrics, the overview page, the token and a path prefix."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from batmux.cli import main
from batmux.config import parse_config
from batmux.errors import ConfigError
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from broker_process import free_port
from mqtt_helpers import running
from sinks.influx_helpers import until

BATTERIES = [
    {"name": "garage", "type": "jk", "sim": {"cells": 4, "current": 12.5, "soc": 61}},
    {"name": "rv", "type": "jbd", "sim": {"cells": 8, "current": -7.0, "soc": 35}},
]
TOKEN = "correct-horse-battery"


@contextlib.asynccontextmanager
async def gateway_web(
    tmp_path: Path, batteries: list[dict[str, Any]] = BATTERIES, **web: Any
) -> AsyncIterator[tuple[Gateway, str]]:
    """A wired, running gateway; yields it and its base URL once all batteries published."""
    port = free_port()
    listen = web.pop("host", "127.0.0.1")
    config = parse_config(
        {
            "state_dir": str(tmp_path / "state"),
            "sample_period": 0.1,
            "publish_period": 0.2,
            "web": {"listen": f"{listen}:{port}", **web},
            "batteries": batteries,
        },
        "test.yaml",
    )
    gateway = Gateway(config)
    wire(gateway)
    async with running(gateway):
        await until(
            lambda: all(
                (s := gateway.hub.latest(b["name"])) is not None and s.available for b in batteries
            )
        )
        base = f"http://127.0.0.1:{port}{config.web.base_path}"  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as http:
            await until_up(http, base, web.get("token"))
        yield gateway, base


async def until_up(http: aiohttp.ClientSession, base: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}api/batteries", headers=headers) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise AssertionError("web server did not come up")


async def get(url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, **kw) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_api_batteries_reports_the_published_state(tmp_path: Path) -> None:
    async with gateway_web(tmp_path) as (_, base):
        status, batteries = await get(f"{base}api/batteries")
        assert status == 200
        by_name = {b["name"]: b for b in batteries}
        assert set(by_name) == {"garage", "rv"}
        for item in batteries:
            for key in ("name", "soc", "voltage", "current", "power", "cell_voltages", "online"):
                assert key in item, key
        garage = by_name["garage"]
        assert garage["online"] is True and len(garage["cell_voltages"]) == 4
        assert garage["current"] == pytest.approx(12.5, abs=0.05)
        assert by_name["rv"]["current"] == pytest.approx(-7.0, abs=0.05)
        assert len(by_name["rv"]["cell_voltages"]) == 8
        assert garage["power"] == pytest.approx(garage["voltage"] * garage["current"], rel=0.01)
        assert garage["health"]["samples"] > 0
        status, one = await get(f"{base}api/batteries/rv")
        assert status == 200 and one["name"] == "rv" and one["soc"] == pytest.approx(35, abs=1)
        status, missing = await get(f"{base}api/batteries/nope")
        assert status == 404 and "nope" in missing["error"]


async def test_api_history_returns_the_rounds_written(tmp_path: Path) -> None:
    async with gateway_web(tmp_path) as (gateway, base):
        url = f"{base}api/history?battery=garage&hours=1&values=soc,current"
        await until(lambda: gateway_history_rounds(gateway) >= 3)
        status, body = await get(url)
        assert status == 200 and body["values"] == ["soc", "current"]
        points = body["points"]
        assert len(points) >= 3
        assert all(p["current"] == pytest.approx(12.5, abs=0.05) for p in points)
        assert [p["t"] for p in points] == sorted(p["t"] for p in points)
        assert set(points[0]) == {"t", "n", "online", "soc", "current"}
        status, error = await get(f"{base}api/history?battery=garage&hours=abc")
        assert status == 400 and error["error"].startswith("hours:")
        status, _ = await get(f"{base}api/history")
        assert status == 400
        # end=0 is the epoch, not "now": an hour ending in 1970 holds nothing
        status, body = await get(f"{base}api/history?battery=garage&end=0")
        assert status == 200 and body["end"] == 0 and body["points"] == []
        status, error = await get(f"{base}api/history?battery=garage&start=20&end=10")
        assert status == 400 and error["error"].startswith("start:")


def gateway_history_rounds(gateway: Gateway) -> int:
    """Publish rounds in the gateway's history file (read by a second connection)."""
    path = gateway.state_dir / "history.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(DISTINCT t) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


METRIC = re.compile(r"^([a-z_]+)\{([^}]*)\} (\S+)$")


def parse_metrics(text: str) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
    types: dict[str, str] = {}
    values: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
        elif line and not line.startswith("#"):
            match = METRIC.match(line)
            assert match, line
            values[(match[1], match[2])] = float(match[3])
    return types, values


async def test_metrics_expose_battery_gauges_health_and_sink_status(tmp_path: Path) -> None:
    async with gateway_web(tmp_path) as (gateway, base):
        await until(lambda: gateway_history_rounds(gateway) >= 1)
        async with aiohttp.ClientSession() as http, http.get(f"{base}metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = await response.text()
        _, batteries = await get(f"{base}api/batteries")
    types, values = parse_metrics(text)
    assert "# HELP batmux_battery_soc " in text
    assert types["batmux_battery_soc"] == "gauge"
    assert types["batmux_battery_charged_kwh_total"] == "counter"
    assert types["batmux_device_samples_total"] == "counter"
    assert all(kind == "counter" for name, kind in types.items() if name.endswith("_total"))
    assert all(name.endswith("_total") for name, kind in types.items() if kind == "counter")
    garage = values[("batmux_battery_current", 'battery="garage"')]
    assert garage == pytest.approx(12.5, abs=0.05)
    assert values[("batmux_battery_online", 'battery="rv"')] == 1
    assert values[("batmux_battery_cell_voltage", 'battery="rv",cell="8"')] > 2.5
    assert values[("batmux_device_samples_total", 'battery="garage"')] > 0
    assert values[("batmux_sink_rounds_total", 'sink="history"')] >= 1
    api_soc = {b["name"]: b["soc"] for b in batteries}
    assert values[("batmux_battery_soc", 'battery="rv"')] == pytest.approx(api_soc["rv"], abs=1)


async def test_the_overview_page_lists_every_battery(tmp_path: Path) -> None:
    async with gateway_web(tmp_path) as (_, base):
        status, html = await get(base)
    assert status == 200 and "<table>" in html
    assert 'href="api/batteries/garage"' in html and 'href="api/batteries/rv"' in html
    assert "12.50" in html  # garage's current


async def test_a_path_prefix_serves_everything_under_it(tmp_path: Path) -> None:
    async with gateway_web(tmp_path, base_path="/hassio/ingress/batmux") as (_, base):
        assert base.endswith("/hassio/ingress/batmux/")
        status, batteries = await get(f"{base}api/batteries")
        assert status == 200 and len(batteries) == 2
        status, _ = await get(f"{base}metrics")
        assert status == 200
        root = base.split("/hassio")[0]
        status, _ = await get(f"{root}/api/batteries")
        assert status == 404
        async with (
            aiohttp.ClientSession() as http,
            http.get(base.rstrip("/"), allow_redirects=False) as response,
        ):
            assert response.status == 302
            assert response.headers["Location"] == "/hassio/ingress/batmux/"


async def test_the_token_is_enforced_on_a_non_loopback_bind(tmp_path: Path) -> None:
    async with gateway_web(tmp_path, host="0.0.0.0", token=TOKEN) as (_, base):
        for path in ("api/batteries", "api/batteries/rv", "metrics", ""):
            status, _ = await get(f"{base}{path}")
            assert status == 401, path
            status, _ = await get(f"{base}{path}", headers={"Authorization": "Bearer wrong-one"})
            assert status == 401, path
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        status, batteries = await get(f"{base}api/batteries", headers=bearer)
        assert status == 200 and len(batteries) == 2
        status, _ = await get(f"{base}metrics?token={TOKEN}")
        assert status == 200
        basic = base64.b64encode(f"me:{TOKEN}".encode()).decode()
        status, html = await get(base, headers={"Authorization": f"Basic {basic}"})
        assert status == 200 and "garage" in html
        async with aiohttp.ClientSession() as http, http.get(f"{base}metrics") as response:
            assert 'Basic realm="batmux"' in response.headers.getall("WWW-Authenticate")


async def test_trusted_clients_need_no_token_and_others_still_do(tmp_path: Path) -> None:
    # as Home Assistant ingress uses it: its proxy's address is trusted, nobody else is
    async with gateway_web(
        tmp_path, host="0.0.0.0", token=TOKEN, trusted_clients=["127.0.0.1"]
    ) as (_, base):
        status, batteries = await get(f"{base}api/batteries")
        assert status == 200 and {b["name"] for b in batteries} == {"garage", "rv"}
    async with gateway_web(
        tmp_path, host="0.0.0.0", token=TOKEN, trusted_clients=["172.30.32.2"]
    ) as (_, base):
        status, _ = await get(f"{base}api/batteries")
        assert status == 401
    with pytest.raises(ConfigError, match=r"web\.trusted_clients"):
        parse_config({"web": {"trusted_clients": ["ingress.local"]}}, "t.yaml")


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.168.1.5:8080", "[::]:8080"])
def test_check_config_rejects_a_non_loopback_bind_without_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str
) -> None:
    path = tmp_path / "batmux.yaml"
    path.write_text(f'web:\n  listen: "{listen}"\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: web: " in err and "needs 'token:'" in err


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "localhost:9000", "[::1]:8080"])
def test_loopback_binds_need_no_token(listen: str) -> None:
    config = parse_config({"web": {"listen": listen}})
    assert config.web is not None and config.web.token is None


def test_history_is_on_by_default_under_state_dir() -> None:
    config = parse_config({"state_dir": "/var/lib/batmux"})
    assert config.history.enabled and config.history.retention_days == 30
    assert config.web is None and config.influxdb is None


async def test_demo_serves_the_web_api_and_prints_its_url(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batmux.cli",
        "demo",
        "--duration",
        "8",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        url = ""
        while not url:
            line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            assert line, "the demo ended before printing its web URL"
            match = re.search(r"web API and /metrics on (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else ""
        names: set[str] = set()
        async with asyncio.timeout(8):
            while not {"jk_garage", "jbd_garage", "daly_rv", "bank"} <= names:
                with contextlib.suppress(aiohttp.ClientError):
                    status, batteries = await get(f"{url}api/batteries")
                    names = {b["name"] for b in batteries if b["online"]}
                await asyncio.sleep(0.2)
        status, text = await get(f"{url}metrics")
        assert status == 200 and 'batmux_battery_soc{battery="bank"}' in text
        proc.send_signal(signal.SIGTERM)  # seen enough: a clean stop, not the whole duration
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()
