"""The dashboard's page: the overview table rendered on the server (the first paint, and all a
browser without JavaScript gets: it then reloads every 5 s), plus ``static/dashboard.js``, which
takes over with live updates from ``api/events``, the battery pages and the charts.

Links are relative so the page works under any path prefix (a reverse proxy, HA ingress).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from batmux.model.state import BatteryState
from batmux.sinks.state_values import scalar_values

_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
    "td:first-child{text-align:left}.off{color:#a00}"
)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _battery_row(state: BatteryState, query: str) -> str:
    v = scalar_values(state)  # the cell spread and limits exactly as /metrics and InfluxDB
    limits = state.limits
    health = state.diagnostics
    cols = [
        f'<a href="#/b/{quote(state.name)}">{escape(state.name)}</a>'
        + (" (group)" if state.is_group else "")
        + f' <a class="json" href="api/batteries/{quote(state.name)}{query}">json</a>',
        "online" if state.available else '<span class="off">offline</span>',
        _fmt(v.get("soc"), 1),
        _fmt(v.get("voltage")),
        _fmt(v.get("current")),
        _fmt(v.get("power"), 0),
        _fmt(v.get("cell_min"), 3),
        _fmt(v.get("cell_max"), 3),
        _fmt(v.get("cell_delta"), 3),
        _fmt(v.get("temperature_max"), 1),
        _fmt(v.get("charge_voltage_limit")),
        _fmt(v.get("charge_current_limit"), 1),
        _fmt(v.get("discharge_current_limit"), 1),
        _fmt(limits.reason if limits else None),
        _fmt(health.get("samples")),
        _fmt(health.get("errors")),
        _fmt(health.get("last_error") or None),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cols) + "</tr>"


def _status_table(title: str, statuses: Mapping[str, Mapping[str, Any]]) -> str:
    if not statuses:
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>"
        + ", ".join(f"{escape(str(k))}: {_fmt(v)}" for k, v in status.items())
        + "</td></tr>"
        for name, status in statuses.items()
    )
    return f"<h2>{escape(title)}</h2><table>{rows}</table>"


def overview_html(
    states: Iterable[BatteryState],
    links: Mapping[str, Mapping[str, Any]],
    sinks: Mapping[str, Mapping[str, Any]],
    token: str | None = None,
    controllable: Iterable[str] = (),
) -> str:
    query = f"?token={quote(token)}" if token else ""
    head = (
        "battery", "state", "SoC %", "V", "A", "W", "cell min", "cell max", "Δ cell",
        "T max °C", "CVL", "CCL", "DCL", "limit reason", "samples", "errors", "last error",
    )  # fmt: skip
    rows = "".join(_battery_row(state, query) for state in states)
    # "</" inside a <script> would end it early: a battery name must not be able to do that
    config = json.dumps({"controllable": sorted(controllable)}).replace("</", "<\\/")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<noscript><meta http-equiv="refresh" content="5"></noscript><title>batmux</title>'
        f"<style>{_STYLE}</style>"
        f'<link rel="stylesheet" href="static/uPlot.min.css{query}">'
        f'<link rel="stylesheet" href="static/dashboard.css{query}"></head><body>'
        f'<header><h1><a href="./{query}">batmux</a></h1><span id="live"></span></header>'
        "<p>Positive current = charging. "
        f'<a href="api/batteries{query}">JSON</a> · <a href="metrics{query}">metrics</a> · '
        f'<a href="api/status{query}">status</a> · '
        f'<a href="api/capture{query}">frame captures</a></p>'
        '<main id="overview"><table><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr>{rows}</table>"
        + _status_table("Inverter links", links)
        + _status_table("Outputs", sinks)
        + '</main><main id="battery" hidden></main>'
        f'<script id="batmux-config" type="application/json">{config}</script>'
        f'<script src="static/uPlot.iife.min.js{query}"></script>'
        f'<script src="static/dashboard.js{query}"></script>'
        "</body></html>"
    )
