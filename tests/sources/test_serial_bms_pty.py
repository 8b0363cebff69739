"""JBD and Daly on a wired port, end to end: config → build_source → SerialBmsLink → pyserial →
socat pty pair → the family simulator (real codec encoders) on the other end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from batmux.config import Config, parse_config
from batmux.devices.ble_source import BleSource
from batmux.errors import BatmuxError
from batmux.links.serial_link import SerialLink
from batmux.protocols import daly, jbd
from batmux.runtime.app import Gateway
from batmux.runtime.sources import build_source
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.peripheral import SimDevice
from batmux.sim.serial_bms import SerialBmsSimulator, WiredDalySimDevice
from ble_sim import COMMON, assert_matches, battery

JBD_RES = {"voltage_v": 0.01, "current_a": 0.01, "charge_ah": 0.01, "temperatures_c": 0.1}
DALY_RES = {"voltage_v": 0.1, "current_a": 0.1, "soc_pct": 0.1, "charge_ah": 0.001,
            "temperatures_c": 1.0}  # fmt: skip


class Wire:
    """A socat pty pair at fixed symlink paths (``host`` for batmux, ``device`` for the sim)
    with a simulator on the device end. ``cut()`` kills both (the adapter is unplugged),
    ``plug()`` brings them back at the same paths."""

    def __init__(self, directory: Path, device: SimDevice, echo: bool = False) -> None:
        self.echo = echo
        self.host = str(directory / "ttyBMS")
        self.device_path = str(directory / "ttySIM")
        self.device = device
        self.proc: subprocess.Popen[bytes] | None = None
        self.sim: SerialBmsSimulator | None = None
        self.requests: list[bytes] = []

    async def plug(self) -> None:
        self.proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.host}",
             f"pty,raw,echo=0,link={self.device_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while not (os.path.exists(self.host) and os.path.exists(self.device_path)):
            assert time.monotonic() < deadline, "socat made no ptys"
            await asyncio.sleep(0.02)
        port = SerialLink(self.device_path, 9600)
        await port.open()
        self.sim = SerialBmsSimulator(self.device, port, echo=self.echo)
        self.sim.requests = self.requests  # one log across re-plugs
        self.sim.start()

    async def cut(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
            self.sim = None
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3)
            self.proc = None


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Callable[[SimDevice], Any]]:
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed (apt install socat)")
    wires: list[Wire] = []

    async def make(device: SimDevice, echo: bool = False) -> Wire:
        w = Wire(tmp_path, device, echo)
        await w.plug()
        wires.append(w)
        return w

    yield make
    for w in wires:
        await w.cut()


def wired_config(tmp_path: Path, battery_cfg: dict[str, Any], **extra: Any) -> Config:
    return parse_config(
        {"sample_period": 0.1, "state_dir": str(tmp_path), "batteries": [battery_cfg], **extra},
        "test.yaml",
    )


async def test_jbd_on_a_dev_path_equals_the_simulator_truth(wire, tmp_path: Path) -> None:
    bat = battery(cells=16, current=-12.3)
    w = await wire(JbdSimDevice(bat))
    address = os.path.realpath(w.host)  # /dev/pts/N: the plain /dev/ rule
    assert address.startswith("/dev/")
    config = wired_config(tmp_path, {"name": "house", "type": "jbd", "address": address,
                                     "timeout": 2})  # fmt: skip
    source = build_source(config.batteries[0], config)
    assert isinstance(source, BleSource)
    try:
        sample = await source.sample()
        assert_matches(sample, bat.truth(), JBD_RES, (*COMMON, "capacity_ah", "cycles"))
        assert len(sample.cell_voltages_v) == 16
        assert w.requests[:2] == [jbd.request(jbd.REG_BASIC), jbd.request(jbd.REG_CELLS)]
        again = await source.sample()  # the port stays open between samples (keep_alive)
        assert again.current_a == -12.3 and source.health.connects == 1
    finally:
        await source.close()


@pytest.mark.parametrize("current", [-7.5, 4.2])
async def test_daly_over_serial_prefix_uses_host_0x40(wire, tmp_path: Path, current: float) -> None:
    bat = battery(cells=8, current=current)
    w = await wire(WiredDalySimDevice(bat))  # answers host 0x40 only, like an RS485 board
    config = wired_config(tmp_path, {"name": "van", "type": "daly", "address": f"serial:{w.host}",
                                     "timeout": 2, "serial": {"baudrate": 9600}})  # fmt: skip
    source = build_source(config.batteries[0], config)
    try:
        sample = await source.sample()
        assert_matches(sample, bat.truth(), DALY_RES, (*COMMON, "cycles"))
        assert len(sample.cell_voltages_v) == 8
        assert w.requests, "nothing reached the device"
        assert {r[1] for r in w.requests} == {daly.HOST_ALT}  # every request: A5 40 …
        assert [r[2] for r in w.requests[:2]] == [daly.CMD_SOC, daly.CMD_MOSFET]
    finally:
        await source.close()


async def test_daly_board_that_wants_0x80_on_uart(wire, tmp_path: Path) -> None:
    """0x40 first, then 0x80 (python-daly-bms's UART byte); the one that answered is kept."""
    w = await wire(WiredDalySimDevice(battery(cells=4), hosts=(daly.HOST_BLE,)))
    config = wired_config(tmp_path, {"name": "van", "type": "daly",
                                     "address": f"serial:{w.host}", "timeout": 2})  # fmt: skip
    source = build_source(config.batteries[0], config)
    try:
        sample = await source.sample()
        assert len(sample.cell_voltages_v) == 4
        assert [r[1] for r in w.requests[:2]] == [daly.HOST_ALT, daly.HOST_BLE]
        assert {r[1] for r in w.requests[2:]} == {daly.HOST_BLE}
    finally:
        await source.close()


@pytest.mark.parametrize("family", ["jbd", "daly"])
async def test_an_echoing_rs485_adapter_still_samples(wire, tmp_path: Path, family: str) -> None:
    bat = battery(cells=4, current=-3.0)
    device = JbdSimDevice(bat) if family == "jbd" else WiredDalySimDevice(bat)
    w = await wire(device, echo=True)  # every request comes back before the reply
    config = wired_config(tmp_path, {"name": "x", "type": family,
                                     "address": f"serial:{w.host}", "timeout": 2})  # fmt: skip
    source = build_source(config.batteries[0], config)
    try:
        sample = await source.sample()
        assert sample.current_a == -3.0 and len(sample.cell_voltages_v) == 4
        # JBD skips an echoed request; Daly counts each one as a corrupt frame
        expected = 0 if family == "jbd" else len(w.requests)
        assert source.health.corrupt_frames == expected
    finally:
        await source.close()


async def test_unplugged_adapter_goes_unavailable_and_recovers(wire, tmp_path: Path) -> None:
    now = [1000.0]
    w = await wire(JbdSimDevice(battery(cells=4, current=3.0)))
    config = wired_config(
        tmp_path,
        {"name": "house", "type": "jbd", "address": f"serial:{w.host}", "timeout": 1,
         "ble": {"backoff_max": 0.3}},
        expire_after=5,
    )  # fmt: skip
    gateway = Gateway(config, clock=lambda: now[0])
    runtime = gateway.batteries["house"]
    try:
        assert await gateway.sample_once(runtime)
        assert gateway.publish_now_map()["house"].available

        await w.cut()  # adapter pulled: the pty and its path are gone
        assert not await gateway.sample_once(runtime)
        health = runtime.health
        assert health.errors >= 1 and health.drops == 1
        assert "connection lost" in (health.last_error or ""), health.last_error
        await asyncio.sleep(0.4)  # past the backoff: reopening a missing port fails too
        assert not await gateway.sample_once(runtime)
        assert "DeviceNotFound" in (health.last_error or ""), health.last_error
        assert "ttyBMS" in (health.last_error or ""), health.last_error
        now[0] += 10  # longer than expire_after without a good sample
        state = gateway.publish_now_map()["house"]
        assert not state.available
        assert state.diagnostics["last_error"]

        await w.plug()  # plugged back in, same path
        deadline = time.monotonic() + 5
        while not await gateway.sample_once(runtime):
            assert time.monotonic() < deadline, health.last_error
            await asyncio.sleep(0.1)
        state = gateway.publish_now_map()["house"]
        assert state.available and state.sample is not None
        assert state.sample.current_a == 3.0
        assert health.connects == 2
    finally:
        for r in gateway.batteries.values():
            with contextlib.suppress(BatmuxError):
                await r.source.close()
