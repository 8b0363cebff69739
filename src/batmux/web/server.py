"""The aiohttp application: JSON API, ``/metrics`` and the overview page, under ``base_path``.

Read-only: nothing here changes the gateway. With ``token:`` set every request needs it, as
``Authorization: Bearer <token>``, HTTP basic auth with the token as password, or ``?token=``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from batmux.sinks import json_text
from batmux.sinks.history_store import VALUES
from batmux.sinks.observe_config import WebConfig
from batmux.web.api import batteries_json, battery_json
from batmux.web.metrics import build_metrics
from batmux.web.page import overview_html

log = logging.getLogger(__name__)

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


def _auth_middleware(token: str) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not authorized(request, token):
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
    middlewares = [_auth_middleware(ctx.config.token)] if ctx.config.token else []
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
        end = _number(request, "end") or now
        start = _number(request, "start")
        if start is None:
            start = end - (hours if hours is not None else 1.0) * 3600
        start = max(start, end - MAX_HISTORY_S)
        wanted = request.query.get("values")
        values = [v for v in wanted.split(",") if v in VALUES] if wanted else list(VALUES)
        try:
            points = await ctx.history.query(name, start, end, values)
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

    async def overview(request: web.Request) -> web.Response:
        token = request.query.get("token")
        html = overview_html(ctx.states(), ctx.link_status(), ctx.sink_status(), token)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    app.router.add_get(f"{base}api/batteries", batteries)
    app.router.add_get(f"{base}api/batteries/{{name}}", battery)
    app.router.add_get(f"{base}api/history", history)
    app.router.add_get(f"{base}api/status", status)
    app.router.add_get(f"{base}metrics", metrics)
    app.router.add_get(base, overview)
    if base != "/":  # the page's links are relative: "/prefix" must become "/prefix/"

        async def slash(request: web.Request) -> web.Response:
            raise web.HTTPFound(base + (f"?{request.query_string}" if request.query_string else ""))

        app.router.add_get(base.rstrip("/"), slash)
    return app


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
