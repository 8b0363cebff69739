"""No BlueZ, no crash: a gateway with a real-MAC battery keeps running when the system D-Bus,
bluetoothd or the adapter is missing, logs the cause once, and the battery comes back by itself
when BlueZ appears or restarts. ``batmux scan`` says what is missing in one line.

Each test runs its own dbus-daemon on a socket path chosen up front, so "absent" is a
``DBUS_SYSTEM_BUS_ADDRESS`` with nothing behind it, and a bus started later appears at the very
address the gateway keeps trying.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.errors import BatmuxError
from batmux.runtime.app import Gateway
from batmux.runtime.sources import build_source
from batmux.runtime.wiring import wire
from batmux.sim.fake_bluez.bus import start_private_bus
from bluez_fixtures import Host, seconds_until
from mqtt_helpers import Recorder, recording, running

MAC = "C8:47:8C:00:00:01"
UNAVAILABLE = "Bluetooth unavailable"

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")


@pytest.fixture
async def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Host]:
    bus_dir = tmp_path / "bus"
    bus_dir.mkdir()
    h = Host(bus_dir, MAC)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", h.address)
    try:
        yield h
    finally:
        await h.close()


def gateway_config(broker_url: str, state_dir: Path, adapter: str | None = None) -> Any:
    house: dict[str, Any] = {
        "name": "house",
        "type": "jk",
        "address": MAC,
        "timeout": 1.0,
        "ble": {"backoff_max": 1.0},  # quick retries keep the test short
    }
    if adapter:
        house["adapter"] = adapter
    return parse_config(
        {
            "mqtt": {"url": broker_url},
            "sample_period": 0.2,
            "publish_period": 0.3,
            "expire_after": 1.5,
            "state_dir": str(state_dir),
            "batteries": [house, {"name": "shed", "type": "jbd", "sim": {"cells": 4}}],
        },
        "test.yaml",
    )


def online(rec: Recorder, name: str) -> bool:
    return rec.messages.get(f"batmux/{name}/availability") == b"online"


async def shed_keeps_publishing(rec: Recorder, seconds: float) -> None:
    """The simulated battery's state keeps changing on the broker (the sink is alive)."""
    rec.messages.pop("batmux/shed/state", None)
    await rec.wait_for(lambda: "batmux/shed/state" in rec.messages, timeout=seconds)
    assert online(rec, "shed")


def warnings_about_bluetooth(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(UNAVAILABLE)]


async def test_no_system_bus_at_start_then_bluez_appears(
    host: Host, broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="batmux")
    gateway = Gateway(gateway_config(broker.url, tmp_path))
    wire(gateway)
    house = gateway.batteries["house"]
    async with recording(broker.port) as rec, running(gateway) as _:
        await rec.wait_for(lambda: online(rec, "shed"))
        await asyncio.sleep(2.0)  # several retries against a socket that does not exist
        assert not online(rec, "house") and house.health.samples == 0
        await shed_keeps_publishing(rec, 2.0)
        lines = warnings_about_bluetooth(caplog)
        assert len(lines) == 1, lines  # once, not once per retry
        assert "D-Bus socket" in lines[0] and "/run/dbus" in lines[0]
        assert str(host.directory / "bus.sock") in lines[0]
        assert "Bluetooth unavailable" in house.health.last_error

        host.start_bus()  # the bus comes first: bluetoothd is still missing
        await asyncio.sleep(1.5)
        lines = warnings_about_bluetooth(caplog)
        assert len(lines) == 2 and "bluetoothd is not running" in lines[1], lines

        await host.start_bluez()
        took = await seconds_until(lambda: online(rec, "house"), 15.0)
        assert house.health.samples > 0
        assert rec.json("batmux/house/state")["soc"] == pytest.approx(61, abs=1)
        await shed_keeps_publishing(rec, 2.0)
    assert took < 5.0  # backoff_max 1 s + connect + one publish period
    assert len(warnings_about_bluetooth(caplog)) == 2
    assert any("Bluetooth is back" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("what", ["bluetoothd", "dbus-daemon"])
async def test_bluez_killed_mid_run_and_restarted(
    what: str, host: Host, broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batmux")
    host.start_bus()
    await host.start_bluez()
    gateway = Gateway(gateway_config(broker.url, tmp_path))
    wire(gateway)
    house = gateway.batteries["house"]
    async with recording(broker.port) as rec, running(gateway) as _:
        await rec.wait_for(lambda: online(rec, "house") and online(rec, "shed"))
        connects = house.health.connects

        await host.kill_bluez()
        if what == "dbus-daemon":
            host.kill_bus()
        await seconds_until(lambda: not online(rec, "house"), 10.0)
        await shed_keeps_publishing(rec, 2.0)  # the others never notice
        await asyncio.sleep(1.5)  # retries while it is gone: still one line
        assert len(warnings_about_bluetooth(caplog)) == 1

        if what == "dbus-daemon":
            host.start_bus()
        await host.start_bluez()  # a new bluetoothd: new owner, new objects
        took = await seconds_until(lambda: online(rec, "house"), 15.0)
        samples = house.health.samples
        await asyncio.sleep(1.0)
        assert house.health.samples > samples  # it keeps sampling, not one lucky read
        assert house.health.connects > connects
        await shed_keeps_publishing(rec, 2.0)
    assert took < 5.0
    assert len(warnings_about_bluetooth(caplog)) == 1


async def test_bluetoothd_restarted_between_two_samples_is_noticed(host: Host) -> None:
    """``systemctl restart bluetooth`` while the gateway is idle: no failure ever says BlueZ was
    gone, but every object path it knew is dead. bleak alone would keep "connecting" to the old
    objects forever (each attempt then failing with UnknownObject)."""
    host.start_bus()
    await host.start_bluez()
    config = parse_config(
        {"batteries": [{"name": "house", "type": "jk", "address": MAC, "timeout": 1.0}]}, "t.yaml"
    )
    source = build_source(config.batteries[0], config)
    try:
        await source.sample()
        await host.kill_bluez()
        await host.start_bluez()
        good = 0
        deadline = time.monotonic() + 10.0
        while good < 3 and time.monotonic() < deadline:
            source.backoff.not_before = 0.0  # retry at once: this is about the link, not timing
            try:
                await source.sample()
                good += 1
            except BatmuxError:
                await asyncio.sleep(0.2)
    finally:
        await source.close()
    assert good == 3, source.health.last_error
    assert source.health.connects >= 2


async def test_missing_adapter_is_named_once_and_the_rest_keeps_going(
    host: Host, broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batmux")
    host.start_bus()
    await host.start_bluez()
    gateway = Gateway(gateway_config(broker.url, tmp_path, adapter="hci7"))
    wire(gateway)
    house = gateway.batteries["house"]
    async with recording(broker.port) as rec, running(gateway) as _:
        await rec.wait_for(lambda: online(rec, "shed"))
        await asyncio.sleep(2.5)
        await shed_keeps_publishing(rec, 2.0)
        assert not online(rec, "house") and house.health.samples == 0
    lines = warnings_about_bluetooth(caplog)
    assert len(lines) == 1, lines
    assert "adapter hci7 is not present" in lines[0] and "bluetoothctl list" in lines[0]
    assert house.health.errors >= 2  # it kept retrying


@pytest.mark.parametrize("bus", ["absent", "no-bluetoothd", "no-adapter"])
def test_scan_says_what_is_missing_in_one_line(bus: str, tmp_path: Path) -> None:
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path / 'none.sock'}")
    args = ["scan", "--timeout", "1"]
    proc: subprocess.Popen[str] | None = None
    if bus == "no-bluetoothd":
        proc, address = start_private_bus(tmp_path)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = address
    elif bus == "no-adapter":  # a running fake bluetoothd with hci0 only
        proc = subprocess.Popen(
            [sys.executable, "-m", "batmux.sim.fake_bluez", "--device", f"jk={MAC}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        env["DBUS_SYSTEM_BUS_ADDRESS"] = proc.stdout.readline().strip().split("=", 1)[1]
        assert "serving jk" in proc.stderr.readline()
        args += ["--adapter", "hci7"]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "batmux.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    expected = {
        "absent": "D-Bus socket",
        "no-bluetoothd": "bluetoothd is not running",
        "no-adapter": "adapter hci7 is not present",
    }[bus]
    assert lines[0].startswith("batmux: scan: ") and expected in lines[0]
