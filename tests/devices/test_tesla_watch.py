"""The keep-alive's own safety checks, against the simulated pack on the virtual bus: an HVIL
the pack never reported is not closed; a hung sampling loop opens the pack (the keep-alive
age-checks the last sample itself); a silent inverter opens it when configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.core.contactor import State
from batmux.devices.tesla_control import TeslaControl, interlocks
from batmux.errors import ConfigError
from batmux.links.modbus import ModbusLink
from batmux.model.sample import BatterySample
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.gen24 import Gen24Sim
from broker_process import free_port
from tesla_helpers import (
    CONTROL,
    LIMITS,
    contactor,
    limits,
    refused_until_set,
    running,
    tesla,
    until,
)


def test_hvil_field_absent_is_unknown_not_ok() -> None:
    sample = BatterySample(timestamp=1.0, extra={"contactor": "open"})
    assert interlocks(sample).reason() == "HVIL unknown"
    known = BatterySample(timestamp=1.0, extra={"contactor": "open", "hvil_ok": True})
    assert interlocks(known).reason() is None


async def test_no_0x20a_from_the_pack_refuses_the_close(tmp_path: Path) -> None:
    # the pack never sends 0x20A: HVIL state unknown
    await refused_until_set(tesla(tmp_path, **CONTROL), "hvp_frames", "HVIL unknown")


async def test_hung_sampling_opens_from_the_keepalive(tmp_path: Path, caplog: Any) -> None:
    contactors = {**CONTROL["contactors"], "max_sample_age_s": 0.5}
    gateway = tesla(tmp_path, allow_control=True, contactors=contactors)
    control = gateway.batteries["tesla"].source
    assert isinstance(control, TeslaControl) and control.stale_s == 0.5
    pack = control.source.simulated_pack
    caplog.set_level(logging.WARNING, "batmux.devices.pack_control")
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")

        async def hang() -> BatterySample:  # the CAN source stops answering (the I/O edge)
            await asyncio.Event().wait()
            raise AssertionError

        control.source.sample = hang  # type: ignore[method-assign]
        await until(lambda: control.machine.state == State.OPENING, timeout=3)
        assert control.machine.reason == "stale data"
        assert "no sample for" in caplog.text
        await until(lambda: pack.state == "open", timeout=5)  # sequence sent, then silence
        del control.source.sample  # the source answers again: shutdown sees the pack open


def _with_gen24(tmp_path: Path, port: int, silent_s: float) -> Gateway:
    contactors = {**CONTROL["contactors"], "open_on_inverter_silent": silent_s}
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "limits": LIMITS,
               "sim": {"cells": 108}, "allow_control": True, "contactors": contactors}  # fmt: skip
    inverter = {"name": "gen24", "type": "byd_modbus", "battery": "tesla",
                "listen": f"127.0.0.1:{port}"}  # fmt: skip
    config = parse_config({"sample_period": 0.1, "publish_period": 0.2,
                           "state_dir": str(tmp_path), "batteries": [battery],
                           "inverters": [inverter]})  # fmt: skip
    gateway = Gateway(config)
    wire(gateway)
    return gateway


async def test_gen24_stopping_opens_the_contactors(tmp_path: Path, caplog: Any) -> None:
    port = free_port()
    gateway = _with_gen24(tmp_path, port, silent_s=0.8)
    control = gateway.batteries["tesla"].source
    pack = control.source.simulated_pack
    caplog.set_level(logging.WARNING, "batmux.devices.pack_control")
    async with running(gateway):
        await until(lambda: "gen24" in gateway.inverter_silence)
        link = ModbusLink(f"127.0.0.1:{port}", 21, timeout_s=0.5)
        gen24 = Gen24Sim(link, poll_period_s=0.2, alarm_period_s=1.0, keepalive_period_s=1.0)
        inverter = asyncio.create_task(gen24.run())
        try:
            await until(lambda: contactor(gateway) == "closed")
            await asyncio.sleep(1.0)  # polled for longer than the bound: still closed
            assert control.machine.state == State.CLOSED
        finally:
            inverter.cancel()  # the inverter stops talking
            with contextlib.suppress(asyncio.CancelledError):
                await inverter
            link.close()
        await until(lambda: control.machine.state in (State.OPENING, State.OPEN), timeout=4)
        assert "inverter silent" in [s.reason for s in control.machine.log]
        assert "contactor closed -> opening (inverter silent)" in caplog.text
        await until(lambda: pack.state == "open", timeout=5)
        await until(lambda: limits(gateway) == (0, 0))


def test_inverter_watch_needs_an_inverter(tmp_path: Path) -> None:
    contactors = {"open_on_inverter_silent": 5}
    with pytest.raises(ConfigError, match="needs an inverter"):
        tesla(tmp_path, allow_control=True, contactors=contactors)
    with pytest.raises(ConfigError, match="not a configured inverter"):
        tesla(tmp_path, allow_control=True, contactors={**contactors, "inverter": "nope"})


async def test_can_sink_reports_how_long_its_inverter_is_silent() -> None:
    """What ``open_on_inverter_silent`` reads from a Pylontech/BYD CAN output: the time since
    the inverter's last frame (a simulated Victron-like inverter on the virtual bus)."""
    from batmux.links.can_bus import CanLink
    from batmux.runtime.hub import StateHub
    from batmux.sim.can_inverter import PylontechInverterSim
    from batmux.sim.can_inverter import running as inverter_running
    from batmux.sinks.pylontech_can import PylontechCanSink
    from sinks.can_bus_helpers import background
    from sinks.test_pylontech_can_sink import config

    cfg = config()
    sink = PylontechCanSink(cfg, StateHub())
    inverter = PylontechInverterSim(CanLink(cfg.can), period_s=0.05)
    async with background(sink.run()):
        async with inverter_running(inverter):
            await until(lambda: sink.last_inverter_at is not None, timeout=3)
            await asyncio.sleep(0.2)
            assert sink.silent_for() < 0.15  # it talks every 50 ms
        await asyncio.sleep(0.4)  # the inverter stopped
        assert sink.silent_for() >= 0.35
