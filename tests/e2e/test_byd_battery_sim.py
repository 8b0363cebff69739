"""``type: byd_can`` / ``type: byd_modbus`` with ``address: sim`` through the gateway: the
simulated BYD batteries' truth arrives in the published state with batmux's sign (+ =
charging), ``check-config`` accepts the configs, and ``stop_after`` makes a battery
unavailable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import main
from batmux.config import parse_config
from batmux.devices.can_source import _is_simulated, fresh_s
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire

SIM = {"cells": 32, "capacity_ah": 50, "soc": 70}
BATTERIES = [
    {"name": "can_out", "type": "byd_can", "address": "sim", "sim": {**SIM, "current": -12}},
    {"name": "can_in", "type": "byd_can", "sim": {**SIM, "current": 8}},
    {"name": "mb_out", "type": "byd_modbus", "address": "sim", "sim": {**SIM, "current": -12}},
    {"name": "mb_in", "type": "byd_modbus", "sim": {**SIM, "current": 8}},
]


async def run_until(gateway: Gateway, done: Callable[[], bool], seconds: float) -> None:
    """Run the gateway until ``done()`` holds (or ``seconds`` pass), then stop it."""
    task = asyncio.create_task(gateway.run())
    try:
        for _ in range(int(seconds * 10)):
            await asyncio.sleep(0.1)
            if done():
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def gateway_for(tmp_path: Path, batteries: list[dict[str, Any]], **top: Any) -> Gateway:
    periods = {"sample_period": 0.2, "publish_period": 0.4, "state_dir": str(tmp_path)}
    config = parse_config({**periods, "batteries": batteries, **top}, "byd.yaml")
    gateway = Gateway(config)
    wire(gateway)
    return gateway


async def test_simulated_byd_batteries_through_the_gateway(tmp_path: Path) -> None:
    gateway = gateway_for(tmp_path, BATTERIES)

    def all_in() -> bool:
        states = [gateway.hub.latest(b["name"]) for b in BATTERIES]
        return all(s is not None and s.sample is not None for s in states)

    await run_until(gateway, all_in, 8.0)
    for name, current in (("can_out", -12), ("can_in", 8), ("mb_out", -12), ("mb_in", 8)):
        state = gateway.hub.latest(name)
        assert state is not None and state.available and state.sample is not None, name
        s = state.sample
        assert s.current_a == pytest.approx(current, abs=0.05), name
        assert (s.power_w or 0) * current > 0, name  # same sign as the current
        assert s.soc_pct == pytest.approx(70, abs=0.5), name
        assert 32 * 3.2 < (s.voltage_v or 0) < 32 * 3.4, name
        assert gateway.batteries[name].health.corrupt_frames == 0, name
    can = gateway.hub.latest("can_out").sample.extra  # type: ignore[union-attr]
    assert can["charge_current_limit"] == 25.0 and can["discharge_current_limit"] == 50.0
    assert can["manufacturer"] == "BYD"
    modbus = gateway.hub.latest("mb_out").sample.extra  # type: ignore[union-attr]
    assert modbus["byd_state"] == "active" and modbus["outer_power"] < 0  # batmux sign


async def test_stop_after_makes_a_simulated_byd_battery_unavailable(tmp_path: Path) -> None:
    # The gateway's side of it. That the CAN battery really falls silent (rather than its
    # 10 s 0x1D0 ageing out) is shown with fast periods in tests/devices/test_byd_sim.py.
    stopping = {**SIM, "current": -5, "stop_after": 1.0}
    batteries = [
        {"name": "mb", "type": "byd_modbus", "address": "sim", "timeout": 0.5, "sim": stopping},
        {"name": "can", "type": "byd_can", "address": "sim", "timeout": 0.5, "sim": stopping},
    ]
    gateway = gateway_for(tmp_path, batteries, expire_after=0.8)
    seen: dict[str, list[bool]] = {"mb": [], "can": []}

    def went_away() -> bool:
        for name, history in seen.items():
            state = gateway.hub.latest(name)
            if state is not None:
                history.append(state.available)
        return all(True in h and h[-1] is False for h in seen.values())

    await run_until(gateway, went_away, 6.0)
    for name, history in seen.items():
        assert True in history, name  # it was there first
        assert history[-1] is False, name  # and went away after stop_after


def test_check_config_accepts_simulated_byd_batteries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "byd.yaml"
    path.write_text(
        "batteries:\n"
        "  - name: hvs\n    type: byd_can\n    address: sim\n"
        "    sim: {cells: 32, capacity_ah: 50, soc: 70, current: -12, stop_after: 600}\n"
        "  - name: hvm\n    type: byd_modbus\n    address: sim\n"
        "    sim: {cells: 32, load: {kind: sine, amplitude: 20}}\n"
    )
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: OK (2 batteries: hvs, hvm)"


def test_byd_can_freshness_covers_the_10_s_frames_unless_timeout_is_given() -> None:
    config = parse_config(
        {
            "batteries": [
                {"name": "a", "type": "byd_can", "address": "sim"},
                {"name": "b", "type": "byd_can", "address": "sim", "timeout": 3},
                {"name": "c", "type": "pylontech_can", "address": "sim"},
                {"name": "d", "type": "byd_can", "can": {"interface": "virtual"}},
            ]
        }
    )
    a, b, c, d = config.batteries
    assert [fresh_s(x) for x in (a, b, c)] == [25.0, 3.0, 10.0]
    assert _is_simulated(a) and not _is_simulated(d)  # a real bus is never simulated
