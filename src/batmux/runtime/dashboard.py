"""The live console table of ``batmux demo``."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.live import Live
from rich.table import Table

from batmux.runtime.app import Gateway


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


def render(gateway: Gateway, notes: dict[str, str] | None = None) -> Table:
    caption = "\n".join((notes or {}).values()) or None
    table = Table(
        title="batmux demo — simulated batteries (positive current = charging)", caption=caption
    )
    states = gateway.hub.snapshot()
    ev = any(s.sample is not None and "contactor" in s.sample.extra for s in states.values())
    for column in (
        "battery",
        "state",
        *(("contactor",) if ev else ()),
        "voltage",
        "current",
        "power",
        "SoC",
        "cells min/max",
        "charged",
        "discharged",
        "limits CVL/CCL/DCL",
        "errors",
    ):
        table.add_column(column)
    for name, state in states.items():
        s = state.sample
        health = state.diagnostics
        limits = state.limits
        contactor = str(s.extra.get("contactor", "—")) if s is not None else "—"
        table.add_row(
            name + (" (group)" if state.is_group else ""),
            "online" if state.available else "[red]unavailable[/red]",
            *((contactor,) if ev else ()),
            _fmt(s and s.voltage_v, "V"),
            _fmt(s and s.current_a, "A"),
            _fmt(s and s.power_w, "W", 0),
            _fmt(s and s.soc_pct, "%", 0),
            f"{_fmt(s and s.min_cell_v, 'V', 3)} / {_fmt(s and s.max_cell_v, 'V', 3)}",
            _fmt(state.meters.charged_kwh, "kWh", 3),
            _fmt(state.meters.discharged_kwh, "kWh", 3),
            (
                f"{limits.charge_voltage_v:.1f} V / {limits.charge_current_a:.0f} A / "
                f"{limits.discharge_current_a:.0f} A {limits.reason}"
            )
            if limits
            else "—",
            f"corrupt {health.get('corrupt_frames', 0)}, timeouts {health.get('timeouts', 0)}",
        )
    return table


async def console_table(gateway: Gateway, notes: dict[str, str]) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=170)
    if not sys.stdout.isatty():
        # Plain lines for logs and pipes: one table per publish period.
        while True:
            await asyncio.sleep(gateway.config.publish_period)
            console.print(render(gateway, notes))
    with Live(render(gateway, notes), console=console, refresh_per_second=2) as live:
        while True:
            await asyncio.sleep(0.5)
            live.update(render(gateway, notes))
