"""First data fast: the first state reaches MQTT (retained) and the inverter's registers within
1.5 s of the first good sample, with the default 5 s publish period; ``batmux run`` says at
INFO what it connects to, one line per battery and output, and never the MQTT password."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.describe import startup_lines
from batmux.runtime.wiring import wire
from conftest import free_port
from faults.fault_helpers import report, start_batmux, stop, watching
from mqtt_helpers import running

STATE = "batmux/bank/state"


async def soc_register(port: int) -> int:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.3, retries=0)
    try:
        if not await client.connect():
            return 0
        reply = await client.read_holding_registers(303, count=1, device_id=21)
        return 0 if reply.isError() else int(reply.registers[0])
    finally:
        client.close()


async def test_first_state_reaches_mqtt_and_registers_within_1_5_s(
    broker: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = parse_config(
        {
            "mqtt": {"url": broker.url},
            "sample_period": 1.0,
            "publish_period": 5.0,
            "state_dir": str(tmp_path),
            "batteries": [{"name": "bank", "type": "jbd", "sim": {"cells": 16, "soc": 55}}],
            "inverters": [{"type": "byd_modbus", "battery": "bank", "listen": f"127.0.0.1:{port}"}],
        }
    )
    gateway = Gateway(config)
    wire(gateway)
    runtime = gateway.batteries["bank"]
    async with watching(broker.port, [STATE]) as w, running(gateway):
        async with asyncio.timeout(10):
            while not runtime.last_good_at:
                await asyncio.sleep(0.005)
        first = time.monotonic()
        on_mqtt = await w.until(lambda: w.last(STATE) is not None, 5)
        async with asyncio.timeout(5):
            while await soc_register(port) == 0:
                await asyncio.sleep(0.02)
        in_registers = time.monotonic()
        assert w.last_json(STATE)["soc"] == 55
    assert on_mqtt - first < 1.5, on_mqtt - first
    assert in_registers - first < 1.5, in_registers - first
    report(
        "first data",
        seconds_first_sample_to_retained_mqtt_state=round(on_mqtt - first, 2),
        seconds_first_sample_to_byd_registers=round(in_registers - first, 2),
        publish_period=5.0,
    )


async def test_run_logs_what_it_connects_to_without_the_password(
    broker: Any, tmp_path: Path
) -> None:
    # mosquitto here allows anonymous clients and ignores the credentials
    url = f"mqtt://batmux:hunter2secret@127.0.0.1:{broker.port}"
    config = {
        "mqtt": {"url": url, "discovery": False},
        "state_dir": str(tmp_path / "state"),
        "batteries": [
            {"name": "sim_pack", "type": "jbd", "sim": {"cells": 4}},
            {"name": "far", "type": "batmux_remote", "topic": "remote/far/state"},
        ],
        "mqtt_json_output": [{"battery": "sim_pack", "topic": "venus/battery/1"}],
    }
    proc = start_batmux(config, tmp_path, "run")
    log = tmp_path / "run.log"
    try:
        async with asyncio.timeout(20):
            while "MQTT: connected" not in log.read_text():
                await asyncio.sleep(0.05)
    finally:
        stop(proc)
    text = log.read_text()
    lines = [line for line in text.splitlines() if " INFO batmux.runtime.app: " in line]
    safe = f"mqtt://batmux:***@127.0.0.1:{broker.port}"
    assert any("battery sim_pack: jbd, simulated" in line for line in lines), text
    assert any(f"battery far: batmux_remote, MQTT topic remote/far/state on {safe}" in line
               for line in lines)  # fmt: skip
    assert any(f"output MQTT: {safe}, topics batmux/" in line for line in lines)
    assert any("output mqtt_json_output: sim_pack → venus/battery/1" in line for line in lines)
    assert f"MQTT: connected to {safe}" in text
    assert "hunter2secret" not in text


def test_startup_line_of_a_ble_battery() -> None:
    config = parse_config(
        {"batteries": [{"name": "shed", "type": "jk", "address": "C8:47:8C:12:34:56"}]}
    )
    assert startup_lines(config) == [
        "battery shed: jk, BLE C8:47:8C:12:34:56 on the default adapter"
    ]
