"""Issue 11 #11: a flood of ON/OFF commands on a real broker costs a couple of BMS writes.

5,001 messages on ``batmux/pack_b/charge/set`` used to queue 5,001 FET writes (about 83 minutes
of switching). Now the latest wish wins, writes to one BMS are spaced by the documented minimum
interval, and what was replaced is reported in one log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from batmux.protocols import jk
from batmux.runtime.app import Gateway
from batmux.runtime.commands import MIN_WRITE_INTERVAL_S
from batmux.sinks.mqtt import MqttSink
from e2e.test_mqtt_e2e import make_config, sim_battery
from mqtt_helpers import recording, running

FLOOD = 5001


def count_switch_writes(gateway: Gateway, name: str) -> list[tuple[int, int]]:
    """(register, value) of every switch write the simulated JK receives over its BLE link."""
    device = gateway.batteries[name].source.driver.link.device  # type: ignore[attr-defined]
    seen: list[tuple[int, int]] = []
    handle = device.handle_write

    def recording_write(char_uuid: str, data: bytes) -> list[bytes]:
        parsed = jk.parse_command(data)
        if parsed is not None and parsed[0] in (jk.REG_CHARGE, jk.REG_DISCHARGE):
            seen.append(parsed)
        return handle(char_uuid, data)

    device.handle_write = recording_write
    return seen


async def test_a_flood_of_commands_ends_in_a_few_writes_and_the_last_wish(
    broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batmux")
    gateway = Gateway(make_config(broker.url, tmp_path))
    sink = MqttSink(gateway)  # what wire() adds, kept at hand to read its counters
    gateway.add_sink("mqtt", lambda _gateway: sink.run())
    commands = sink.commands
    writes = count_switch_writes(gateway, "pack_b")
    async with recording(broker.port) as rec, running(gateway):
        await rec.wait_for(lambda: "batmux/pack_b/charge/state" in rec.messages)
        assert rec.messages["batmux/pack_b/charge/state"] == b"ON"
        assert rec.client is not None
        started = time.monotonic()
        for i in range(FLOOD):  # OFF, ON, OFF, ... OFF: the last wish is OFF
            await rec.client.publish("batmux/pack_b/charge/set", b"OFF" if i % 2 == 0 else b"ON")
        battery = sim_battery(gateway, "pack_b")
        await rec.wait_for(lambda: commands.submitted == FLOOD, timeout=20)
        commands_done_at = time.monotonic()
        await rec.wait_for(lambda: not commands.pending("pack_b"), timeout=10)
        await rec.wait_for(lambda: rec.messages["batmux/pack_b/charge/state"] == b"OFF")
        settled = time.monotonic() - started
        flood_s = commands_done_at - started
        await asyncio.sleep(MIN_WRITE_INTERVAL_S + 0.5)  # nothing else is still on its way

    print(
        f"flood of {FLOOD} over {flood_s:.1f} s: {len(writes)} BMS writes, settled {settled:.1f} s"
    )
    # At most one write per minimum interval while the flood lasts, plus the first and the last.
    assert 1 <= len(writes) <= flood_s / MIN_WRITE_INTERVAL_S + 2, writes
    assert writes[-1] == (jk.REG_CHARGE, 0)  # the last wish, OFF
    assert battery.charge_enabled is False and battery.discharge_enabled is True
    assert commands.writes == len(writes)
    assert commands.replaced == FLOOD - len(writes)
    assert settled < flood_s + MIN_WRITE_INTERVAL_S + 3
    # One summary line names what was dropped; no line per message.
    lines = [r.getMessage() for r in caplog.records if "pack_b: charge switch" in r.getMessage()]
    assert len(lines) == len(writes), lines
    replaced = [int(line.split("(")[1].split()[0]) for line in lines if "replaced" in line]
    assert sum(replaced) == FLOOD - len(writes)


async def test_a_switch_shows_its_new_state_right_after_the_write(
    broker: Any, tmp_path: Path
) -> None:
    """With a 3 s publish period the switch state must not wait for the next publish."""
    gateway = Gateway(make_config(broker.url, tmp_path, publish_period=3.0, expire_after=10.0))
    sink = MqttSink(gateway)
    gateway.add_sink("mqtt", lambda _gateway: sink.run())
    topic = "batmux/pack_b/discharge/state"
    async with recording(broker.port) as rec, running(gateway):
        await rec.wait_for(lambda: rec.messages.get(topic) == b"ON")
        await asyncio.sleep(0.5)  # just after a publish: the next one is 2.5 s away
        assert rec.client is not None
        started = time.monotonic()
        await rec.client.publish("batmux/pack_b/discharge/set", b"OFF")
        await rec.wait_for(lambda: rec.messages.get(topic) == b"OFF", timeout=5)
        shown_after = time.monotonic() - started
        assert sim_battery(gateway, "pack_b").discharge_enabled is False
        # The next regular publish (a sample taken after the write) agrees; no flicker back.
        await asyncio.sleep(3.5)
        assert rec.messages[topic] == b"OFF"
        assert rec.json("batmux/pack_b/state")["discharge_enabled"] is False
    print(f"switch state shown {shown_after:.2f} s after the command (publish period 3 s)")
    assert shown_after < 1.0


async def test_a_flood_of_bad_commands_is_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = MqttSink(Gateway(make_config("mqtt://127.0.0.1:1", tmp_path)))
    for i in range(FLOOD):
        topic = "batmux/pack_b/charge/set" if i % 2 else "batmux/pack_a/charge/set"
        await sink._command(topic, "maybe" if i % 2 else "ON")  # bad payload / no control
    assert sink.ignored_commands == FLOOD
    assert not sink.commands.pending("pack_b")
    lines = [r for r in caplog.records if "ignoring command" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
