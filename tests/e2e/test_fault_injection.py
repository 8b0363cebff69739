"""Fault injection end to end (issue #12): a running gateway with a real broker takes
``<base>/<pack>/inject/set`` (sent by ``batmux inject``'s code), and every output sees the
fault: the state JSON's limits go to 0 A with the alarm, and so does the Pylontech CAN frame
a simulated inverter reads on the virtual bus; ``clear`` brings them back."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.core.inject import Injector, apply, parse_request
from batmux.errors import BatmuxError
from batmux.links.can_bus import CanLink
from batmux.model.sample import BatterySample
from batmux.runtime.app import Gateway
from batmux.runtime.inject_client import send_injection
from batmux.runtime.wiring import wire
from batmux.sim.can_inverter import PylontechInverterSim, running
from mqtt_helpers import recording
from sinks.can_bus_helpers import channel


def _gateway(tmp_path: Path, port: int, allow: bool) -> tuple[Gateway, Any]:
    can = channel()
    battery = {"name": "pack", "type": "jk", "address": "sim", "allow_inject": allow,
               "sim": {"cells": 16, "soc": 60},
               "limits": {"hold_s": 0, "ramp_a_per_s": 1000}}  # fmt: skip
    inverter = {"type": "pylontech_can", "battery": "pack", "period": 0.1,
                "can": can.model_dump(), "on_inverter_silent": "report"}  # fmt: skip
    config = parse_config({"mqtt": {"url": f"mqtt://127.0.0.1:{port}"}, "sample_period": 0.1,
                           "publish_period": 0.2, "state_dir": str(tmp_path),
                           "batteries": [battery], "inverters": [inverter]})  # fmt: skip
    gateway = Gateway(config)
    wire(gateway)
    return gateway, config


def _can_limits(inverter: PylontechInverterSim) -> tuple[float | None, float | None, list[str]]:
    sample: Any = inverter.decode("pylontech_can")
    extra = sample.extra
    return extra["charge_current_limit"], extra["discharge_current_limit"], sorted(sample.alarms)


async def test_inject_over_temperature_then_clear(tmp_path: Path, broker: Any) -> None:
    gateway, config = _gateway(tmp_path, broker.port, allow=True)
    inverter = PylontechInverterSim(CanLink(config.inverters[0].can), period_s=0.1)
    state = "batmux/pack/state"
    task = asyncio.create_task(gateway.run())
    try:
        async with recording(broker.port) as rec, running(inverter):
            await rec.wait_for(lambda: state in rec.messages, timeout=15)
            await rec.wait_for(lambda: (rec.json(state).get("charge_current_limit") or 0) > 0)
            got = await send_injection(config, "pack", "over_temperature", None, wait_s=5)
            assert got == "confirmed: pack shows over_temperature"
            await rec.wait_for(lambda: rec.json(state)["charge_current_limit"] == 0)
            shown = rec.json(state)
            assert shown["discharge_current_limit"] == 0
            assert {"charge_overtemperature", "discharge_overtemperature"} <= set(shown["alarms"])
            assert max(shown["temperatures"]) == 70.0
            inverter.received.clear()
            await asyncio.sleep(0.5)
            charge, discharge, alarms = _can_limits(inverter)
            assert (charge, discharge) == (0.0, 0.0)
            assert any("temperature" in a for a in alarms), alarms
            got = await send_injection(config, "pack", "clear", None, wait_s=5)
            assert got == "confirmed: pack shows no injected fault"
            await rec.wait_for(lambda: (rec.json(state).get("charge_current_limit") or 0) > 0)
            assert not rec.json(state).get("alarms")
            inverter.received.clear()
            await asyncio.sleep(0.5)
            charge, discharge, _ = _can_limits(inverter)
            assert charge and discharge and charge > 0 and discharge > 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_inject_refused_without_allow_inject(tmp_path: Path, broker: Any) -> None:
    gateway, config = _gateway(tmp_path, broker.port, allow=False)
    task = asyncio.create_task(gateway.run())
    try:
        async with recording(broker.port) as rec:
            await rec.wait_for(lambda: "batmux/pack/state" in rec.messages, timeout=15)
            with pytest.raises(BatmuxError, match="did not confirm"):
                await send_injection(config, "pack", "over_temperature", None, wait_s=1)
            assert "injected_fault" not in rec.json("batmux/pack/state")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    ("payload", "want"),
    [
        ("over_temperature", ("over_temperature", None)),
        ("cell_over_voltage 30", ("cell_over_voltage", 30.0)),
        ('{"fault": "stale", "for": 5}', ("stale", 5.0)),
        ("CLEAR", ("clear", None)),
    ],
)
def test_parse_request(payload: str, want: tuple[str, float | None]) -> None:
    assert parse_request(payload) == want


@pytest.mark.parametrize("payload", ["melt", "stale -1", "stale soon", "[1]", "{bad"])
def test_parse_request_rejects(payload: str) -> None:
    with pytest.raises(ValueError):
        parse_request(payload)


def test_apply_each_fault() -> None:
    cells = (3.30, 3.31, 3.29, 3.30)
    sample = BatterySample(timestamp=1.0, voltage_v=13.2, cell_voltages_v=cells)
    over = apply(sample, "cell_over_voltage")
    assert over is not None and over.cell_voltages_v[1] == pytest.approx(3.56)
    assert "cell_overvoltage" in over.alarms
    under = apply(sample, "cell_under_voltage")
    assert under is not None and under.cell_voltages_v[2] == pytest.approx(3.04)
    assert "cell_undervoltage" in under.alarms
    assert apply(sample, "stale") is None
    injector = Injector()
    injector.set("pack", "stale", now=100.0, for_s=5)
    assert injector.active("pack", 104.0) is not None
    assert injector.active("pack", 105.0) is None and injector.get("pack") is None


def test_cli_inject_needs_mqtt(tmp_path: Path, capsys: Any) -> None:
    from batmux.cli import main

    config = tmp_path / "batmux.yaml"
    config.write_text("batteries:\n  - {name: pack, type: jk, address: sim, allow_inject: true}\n")
    assert main(["inject", "pack", "over_temperature", "-c", str(config)]) == 1
    assert "no mqtt: section" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inject", "pack", "melt", "-c", str(config)])


async def test_inject_with_the_broker_gone(tmp_path: Path) -> None:
    from broker_process import free_port

    battery = {"name": "pack", "type": "jk", "address": "sim", "allow_inject": True}
    config = parse_config(
        {"mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}"}, "batteries": [battery]}
    )
    with pytest.raises(BatmuxError, match=r"^MQTT: "):
        await send_injection(config, "pack", "over_temperature", None, wait_s=1.0)
