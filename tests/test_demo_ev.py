"""``batmux demo --ev``: a simulated Tesla pack closes its contactors and is served as a BYD
battery to the simulated Gen24; the console table shows the contactor state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.dashboard import render
from batmux.runtime.demo import demo_config, simulated_gen24
from batmux.runtime.wiring import wire
from broker_process import free_port

BATMUX = [str(Path(sys.executable).parent / "batmux")]


async def test_ev_demo_closes_serves_the_gen24_and_shows_the_contactor(tmp_path: Path) -> None:
    port = free_port()
    raw = demo_config(None, str(tmp_path), port, ev=True)
    raw |= {"sample_period": 0.2, "publish_period": 0.2}  # the demo's own: 1 s / 2 s
    config = parse_config(raw, "<demo>")
    (battery,) = config.batteries
    assert battery.type == "tesla_model3" and battery.contactors is not None
    gateway = Gateway(config)
    wire(gateway)
    notes: dict[str, str] = {}
    task = asyncio.create_task(gateway.run([simulated_gen24(port, notes, 0.5, 0.3)]))
    try:
        end = time.monotonic() + 15
        text = ""
        # the Gen24 may see the battery while the pack is still closing: wait for both
        while not (
            "sees: active" in notes.get("gen24", "")
            and re.search(r"tesla\s+│ online\s+│ closed", text)
        ):
            assert time.monotonic() < end, text or notes
            await asyncio.sleep(0.1)
            console = Console(record=True, width=200)
            console.print(render(gateway, notes))
            text = console.export_text()
        assert "Gen24 (simulated) sees: active" in text
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    control = gateway.batteries["tesla"].source
    assert control.source.simulated_pack.state == "open"  # the demo's end opened it first


@pytest.mark.soak
def test_batmux_demo_ev_process(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The real command (~10 s): ``uv run pytest -m soak tests/test_demo_ev.py``."""
    if "soak" not in (request.config.getoption("-m") or ""):
        pytest.skip("the real command takes ~10 s: uv run pytest -m soak tests/test_demo_ev.py")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [*BATMUX, "demo", "--ev", "--duration", "6"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=40,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "Tesla pack (contactors closed by batmux) emulated as a BYD battery" in done.stdout
    assert re.search(r"tesla\s+│ online\s+│ closed", done.stdout), done.stdout[-3000:]
    assert "opening -> open (pack reports open)" in done.stderr  # the demo's end opens first
