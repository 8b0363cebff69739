"""Meter counts survive a clean restart and a ``kill -9`` of ``batmux run``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from mqtt_helpers import running


def config_data(state_dir: Path, publish_period: float = 0.2) -> dict[str, Any]:
    return {
        "sample_period": 0.1,
        "publish_period": publish_period,
        "state_dir": str(state_dir),
        # JBD answers every request; a simulated JK only streams a frame every 0.5 s
        "batteries": [
            {"name": "charging", "type": "jbd", "sim": {"cells": 16, "current": 40.0}},
            {"name": "discharging", "type": "jbd", "sim": {"cells": 8, "current": -25.0}},
        ],
    }


def meter_file(state_dir: Path, name: str) -> Path:
    return state_dir / "meters" / f"{name}.json"


def read_meters(state_dir: Path, name: str) -> dict[str, float]:
    return json.loads(meter_file(state_dir, name).read_text())


async def run_for(gateway: Gateway, seconds: float) -> None:
    async with running(gateway):
        await asyncio.sleep(seconds)


async def test_meters_continue_after_a_clean_restart(tmp_path: Path) -> None:
    config = parse_config(config_data(tmp_path), "test.yaml")
    first = Gateway(config)
    wire(first)
    await run_for(first, 1.2)
    charged = read_meters(tmp_path, "charging")
    discharged = read_meters(tmp_path, "discharging")
    # ~2.1 kW for ~1 s ≈ 0.6 Wh; the file holds exactly what the gateway counted
    assert charged["charged_wh"] > 0.2 and charged["discharged_wh"] == 0.0
    assert discharged["discharged_wh"] > 0.05 and discharged["charged_wh"] == 0.0
    assert charged["charged_wh"] == first.batteries["charging"].meters.charged_wh

    second = Gateway(config)
    wire(second)
    assert second.batteries["charging"].meters.charged_wh == charged["charged_wh"]
    assert second.batteries["discharging"].meters.discharged_wh == discharged["discharged_wh"]
    state = second.publish_now_map()["charging"]
    assert state.meters.charged_kwh == pytest.approx(charged["charged_wh"] / 1000)
    await run_for(second, 0.8)
    assert read_meters(tmp_path, "charging")["charged_wh"] > charged["charged_wh"]
    assert read_meters(tmp_path, "discharging")["discharged_wh"] > discharged["discharged_wh"]


def start_batmux(config_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "batmux.cli", "run", "-c", str(config_path)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_meters(state_dir: Path, above: float, proc: subprocess.Popen[bytes]) -> float:
    """Poll the meter file until it exceeds ``above``; it must never go below it meanwhile."""
    deadline = time.monotonic() + 15
    path = meter_file(state_dir, "charging")
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        if path.exists():
            value = json.loads(path.read_text())["charged_wh"]  # atomic: always valid JSON
            assert value >= above, f"meters went back from {above} to {value}"
            if value > above:
                return float(value)
        time.sleep(0.05)
    raise AssertionError(f"meters never went past {above}")


def test_meters_survive_kill_9(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    config_path = tmp_path / "batmux.yaml"
    # The gateway saves on its first publish, then every SAVE_PERIOD_S (10 s): a first publish
    # after ~5 samples gives a non-zero count to kill the process on.
    config_path.write_text(yaml.safe_dump(config_data(state_dir, publish_period=0.5)))

    proc = start_batmux(config_path, tmp_path)
    try:
        first = wait_meters(state_dir, 0.0, proc)
        time.sleep(0.3)  # pull the plug mid-run, between saves
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(5) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saved = read_meters(state_dir, "charging")  # must be valid JSON after the kill
    assert saved["charged_wh"] >= first > 0
    assert read_meters(state_dir, "discharging")["discharged_wh"] > 0
    assert not list((state_dir / "meters").glob("*.json.*"))  # no torn temp files left behind

    proc = start_batmux(config_path, tmp_path)
    try:
        later = wait_meters(state_dir, saved["charged_wh"], proc)
        assert later > saved["charged_wh"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    final = read_meters(state_dir, "charging")
    assert final["charged_wh"] >= later


def test_start_resumes_from_the_higher_of_own_file_and_published_totals(tmp_path: Path) -> None:
    """A crash after a publish but before the next 10 s save: the published totals file holds
    more than the battery's own file, and the restart must not publish less than it."""
    meters = tmp_path / "meters"
    meters.mkdir()
    meter_file(tmp_path, "charging").write_text(
        json.dumps({"charged_wh": 100.0, "discharged_wh": 7.0, "soc_travel_pct": 50.0})
    )
    published = {"version": 1, "meters": {"charging": [130.5, 5.0, 61.0], "gone": [1, 2, 3]}}
    (meters / "published.totals.json").write_text(json.dumps(published))
    gateway = Gateway(parse_config(config_data(tmp_path), "test.yaml"))
    state = gateway.publish_now_map()["charging"]
    assert state.meters.charged_kwh == pytest.approx(0.1305)
    assert state.meters.discharged_kwh == pytest.approx(0.007)  # its own file was higher
    assert state.meters.cycles == pytest.approx(61.0 / 200)
    assert gateway.publish_now_map()["discharging"].meters.charged_kwh == 0.0
