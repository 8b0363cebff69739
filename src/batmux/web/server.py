"""The aiohttp application: JSON API, live events, ``/metrics`` and the dashboard, under
``base_path``.

Every ``GET`` is read-only. The one write is ``POST api/batteries/<name>/switch/<switch>``, for
a battery whose config sets ``allow_control`` (through the gateway's spaced latest-wish-wins
switch queue, shared with MQTT; refused otherwise, and logged). With
``token:`` set every request needs it, as ``Authorization: Bearer <token>``, HTTP basic auth
with the token as password, or ``?token=``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from batmux.devices.capture import capture_filename, capture_text
from batmux.errors import BatmuxError, ControlRefused
from batmux.runtime.commands import MIN_WRITE_INTERVAL_S
from batmux.sinks import json_text
from batmux.sinks.history_store import VALUES
from batmux.sinks.observe_config import WebConfig
from batmux.web.api import batteries_json, battery_json
from batmux.web.events import EventFeed
from batmux.web.metrics import build_metrics
from batmux.web.page import overview_html

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"  # the dashboard's script, style and uPlot (vendored)
MAX_POINTS = 10_000
SWITCHES = ("charge", "discharge")
MAX_HISTORY_S = 3660 * 86400
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus text format
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Strict JSON like every MQTT payload: a non-finite value goes out as null, never as NaN
# (which JSON.parse in the overview page and most clients reject with the whole document).
json_response = functools.partial(web.json_response, dumps=json_text.dumps)


@dataclass
class WebContext:
    """What the server reads: the gateway (hub, health, link status) and the other outputs."""

    gateway: Any
    config: WebConfig
    history: Any = None  # a HistoryWriter, when the history is on
    sinks: Mapping[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)

    def states(self) -> list[Any]:
        return list(self.gateway.hub.snapshot().values())

    def link_status(self) -> dict[str, dict[str, Any]]:
        return _call_all(self.gateway.link_status)

    def sink_status(self) -> dict[str, dict[str, Any]]:
        return _call_all(self.sinks)


def _call_all(status: Mapping[str, Callable[[], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, fn in list(status.items()):
        try:
            out[name] = fn()
        except Exception as exc:  # one broken status must not take the page down
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def authorized(request: web.Request, token: str) -> bool:
    given = request.query.get("token", "")
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        given = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(credentials, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    return hmac.compare_digest(given.encode(), token.encode())


def _direct_host(host: str) -> bool:
    """``Host`` is ``localhost`` or an IP literal (with or without port), not a DNS name."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").split("]:")[0]
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _auth_middleware(token: str, trusted: frozenset[str] = frozenset()) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        # request.remote is the TCP peer (no forwarded headers are believed)
        if request.remote not in trusted and not authorized(request, token):
            response = json_response({"error": "unauthorized"}, status=401)
            response.headers.add("WWW-Authenticate", 'Bearer realm="batmux"')
            response.headers.add("WWW-Authenticate", 'Basic realm="batmux"')
            return response
        return await handler(request)

    return check


def _number(request: web.Request, key: str) -> float | None:
    text = request.query.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > 1e12:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{key}: not a number in range"}),
            content_type="application/json",
        )
    return value


def build_app(ctx: WebContext) -> web.Application:
    base = ctx.config.base_path  # "/" or "/prefix/"
    trusted = frozenset(ctx.config.trusted_clients)
    middlewares = [_auth_middleware(ctx.config.token, trusted)] if ctx.config.token else []
    app = web.Application(middlewares=middlewares)

    async def batteries(request: web.Request) -> web.Response:
        return json_response(batteries_json(ctx.states()))

    async def battery(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state = ctx.gateway.hub.latest(name)
        if state is None:
            return json_response({"error": f"no battery or group {name!r}"}, status=404)
        return json_response(battery_json(state))

    async def history(request: web.Request) -> web.Response:
        if ctx.history is None:
            return json_response({"error": "the history is disabled"}, status=404)
        name = request.query.get("battery")
        if not name:
            return json_response({"error": "battery= is required"}, status=400)
        now = ctx.gateway.clock()
        hours = _number(request, "hours")
        end = _number(request, "end")
        if end is None:  # not `or now`: end=0 is 1970, not now
            end = now
        start = _number(request, "start")
        if start is None:
            start = end - (hours if hours is not None else 1.0) * 3600
        if start > end:
            return json_response({"error": "start: after end"}, status=400)
        start = max(start, end - MAX_HISTORY_S)
        wanted = request.query.get("values")
        values = [v for v in wanted.split(",") if v in VALUES] if wanted else list(VALUES)
        most = _number(request, "points")
        limit = None if most is None else int(min(max(most, 2), MAX_POINTS))
        try:
            points = await ctx.history.query(name, start, end, values, limit)
        except Exception as exc:  # sqlite3.Error, OSError: the store is unreadable right now
            return json_response({"error": f"history: {exc}"}, status=503)
        return json_response(
            {"battery": name, "start": start, "end": end, "values": values, "points": points}
        )

    async def status(request: web.Request) -> web.Response:
        return json_response(
            {"time": time.time(), "links": ctx.link_status(), "sinks": ctx.sink_status()}
        )

    async def metrics(request: web.Request) -> web.Response:
        text = build_metrics(ctx.states(), ctx.link_status(), ctx.sink_status())
        return web.Response(body=text.encode(), headers={"Content-Type": METRICS_TYPE})

    def capture_ring(name: str) -> Any:
        runtime = ctx.gateway.batteries.get(name)
        return getattr(runtime.source, "capture", None) if runtime is not None else None

    async def captures(request: web.Request) -> web.Response:
        out = []
        for name, runtime in ctx.gateway.batteries.items():
            ring = capture_ring(name)
            if ring is not None:
                item = {"name": name, "protocol": runtime.cfg.type, "chunks": len(ring)}
                out.append(item | {"url": f"api/capture/{name}"})
        return json_response(out)

    async def capture(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        ring = capture_ring(name)
        if ring is None:
            return json_response({"error": f"no frame capture for {name!r}"}, status=404)
        text = capture_text(name, ring, ctx.gateway.batteries[name].cfg.type)
        disposition = f'attachment; filename="{capture_filename(name)}"'
        return web.Response(
            text=text,
            content_type="application/x-ndjson",
            headers={"Content-Disposition": disposition},
        )

    async def switch(request: web.Request) -> web.Response:
        name, which = request.match_info["name"], request.match_info["switch"]
        runtime = ctx.gateway.batteries.get(name)
        if runtime is None or which not in SWITCHES:
            return json_response({"error": f"no switch {which!r} on {name!r}"}, status=404)
        # Without a token, a page that rebinds its own DNS name to 127.0.0.1 would be "same
        # origin": only requests addressed to a loopback name or an IP literal may switch.
        if not ctx.config.token and not _direct_host(request.host):
            return json_response({"error": "switching needs a token on this host name"}, status=403)
        # JSON only: a cross-site form cannot send it without a CORS preflight we never allow
        if request.content_type != "application/json":
            return json_response({"error": "send application/json"}, status=415)
        try:
            on = (await request.json())["on"]
        except (ValueError, KeyError, TypeError):
            on = None
        if not isinstance(on, bool):
            return json_response({"error": 'body must be {"on": true|false}'}, status=400)
        try:
            # the same spaced queue as MQTT and the charge-switch algorithm: a burst of clicks
            # ends in few writes; the answer is the value written (a newer wish may win)
            async with asyncio.timeout(runtime.cfg.timeout + MIN_WRITE_INTERVAL_S):
                on = await ctx.gateway.request_switch(
                    name, which, on, f"web, from {request.remote}"
                )
        except ControlRefused as exc:
            return json_response({"error": str(exc)}, status=403)
        except (BatmuxError, TimeoutError) as exc:
            log.warning("%s: web: %s switch: %s", name, which, exc)
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, status=502)
        return json_response({"name": name, "switch": which, "on": on})

    async def overview(request: web.Request) -> web.Response:
        token = request.query.get("token")
        html = overview_html(
            ctx.states(), ctx.link_status(), ctx.sink_status(), token, _controllable(ctx)
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    app.router.add_get(f"{base}api/batteries", batteries)
    app.router.add_get(f"{base}api/batteries/{{name}}", battery)
    app.router.add_post(f"{base}api/batteries/{{name}}/switch/{{switch}}", switch)
    feed = EventFeed(ctx)
    app.on_shutdown.append(feed.close_all)
    app.router.add_get(f"{base}api/events", feed.handle)
    app.router.add_get(f"{base}api/capture", captures)
    app.router.add_get(f"{base}api/capture/{{name}}", capture)
    app.router.add_static(f"{base}static/", STATIC)
    app.router.add_get(f"{base}api/history", history)
    app.router.add_get(f"{base}api/status", status)
    app.router.add_get(f"{base}metrics", metrics)
    app.router.add_get(base, overview)
    if base != "/":  # the page's links are relative: "/prefix" must become "/prefix/"

        async def slash(request: web.Request) -> web.Response:
            raise web.HTTPFound(base + (f"?{request.query_string}" if request.query_string else ""))

        app.router.add_get(base.rstrip("/"), slash)
    return app


def _controllable(ctx: WebContext) -> list[str]:
    return [n for n, r in ctx.gateway.batteries.items() if r.cfg.allow_control]


async def run_web(ctx: WebContext) -> None:
    """Serve until cancelled (a port in use raises OSError: the supervisor retries)."""
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, ctx.config.host, ctx.config.port)
        await site.start()
        log.info("web: listening on http://%s%s", ctx.config.listen, ctx.config.base_path)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
