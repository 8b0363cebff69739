"""Contactor control of a Tesla pack through the gateway, against the simulated pack on
python-can's virtual bus: close_on_start, keep-alive loss, a fault while closed, shutdown
(the SIGTERM path: the gateway's run is cancelled) while closed, refused closes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from batmux.core.contactor import Interlocks, State
from batmux.devices.tesla_control import TeslaControl
from batmux.errors import ConfigError, ControlRefused
from batmux.protocols import tesla_keepalive as ka
from mqtt_helpers import recording
from tesla_helpers import (
    CONTROL,
    LIMITS,
    contactor,
    limits,
    one_pack,
    refused_until_set,
    running,
    tesla,
    until,
)


async def test_close_on_start_closes_and_keepalive_is_valid(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, **CONTROL)
    control = gateway.batteries["tesla"].source
    assert isinstance(control, TeslaControl)
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")
        pack = control.source.simulated_pack
        assert pack.state == "closed" and pack.keepalive_frames > 0
        assert pack.bad_keepalive_frames == 0  # counter + checksum right on every frame
        await until(lambda: min(limits(gateway)) > 0)
        assert [s.after for s in control.machine.log][-1] == State.CLOSED


async def test_keepalive_loss_opens_and_limits_go_to_zero(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, **CONTROL)
    control = gateway.batteries["tesla"].source
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")
        await until(lambda: min(limits(gateway)) > 0)
        control.muted = True  # the keep-alive is lost on the wire
        await until(lambda: contactor(gateway) == "fault")
        assert control.source.simulated_pack.state == "open"
        assert "while commanded closed" in control.machine.reason
        await until(lambda: limits(gateway) == (0, 0))


async def test_fault_while_closed_opens(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, **CONTROL)
    control = gateway.batteries["tesla"].source
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")
        pack = control.source.simulated_pack
        pack.alerts.add("a019_module_ot")
        await until(lambda: control.machine.state == State.OPEN)
        assert pack.state == "open"
        assert [(s.after, s.reason) for s in control.machine.log][-2:] == [
            (State.OPENING, "fault alarm"),
            (State.OPEN, "pack reports open"),
        ]
        await until(lambda: limits(gateway) == (0, 0))
        with pytest.raises(ControlRefused, match="fault alarm"):
            control.command("close")


async def test_shutdown_while_closed_opens_first(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, **CONTROL)
    control = gateway.batteries["tesla"].source
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")
    # the gateway's shutdown path (what SIGTERM runs) sent the open sequence and waited
    pack = control.source.simulated_pack
    assert pack.state == "open"
    assert control.machine.state == State.OPEN
    assert [s.reason for s in control.machine.log][-2:] == ["shutdown", "pack reports open"]


async def test_close_refused_without_interlocks(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, allow_control=True, contactors={"close_on_start": False})
    control = gateway.batteries["tesla"].source
    with pytest.raises(ControlRefused, match="stale data"):
        control.command("close")  # nothing read yet
    assert control.frames_now() is None  # nothing on the wire
    control._locks = Interlocks()
    control.command("close")
    frames = control.frames_now()
    assert frames is not None and all(ka.is_valid(f) for f in frames)


def test_contactors_without_allow_control_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ValueError), match="allow_control"):
        tesla(tmp_path, contactors={"close_on_start": True})


def test_no_control_without_contactors_section(tmp_path: Path) -> None:
    gateway = tesla(tmp_path, allow_control=True)
    assert not isinstance(gateway.batteries["tesla"].source, TeslaControl)


async def test_mqtt_contactor_command_and_refusal(tmp_path: Path, broker: Any) -> None:
    """``<base>/tesla/contactor/set`` close/open, the HA switch, and a refusal with its reason."""
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "limits": LIMITS}
    battery |= {"sim": {"cells": 108}, "allow_control": True}
    battery["contactors"] = {"open_step_s": 0.2}
    gateway = one_pack(tmp_path, battery, mqtt={"url": f"mqtt://127.0.0.1:{broker.port}"})
    control = gateway.batteries["tesla"].source
    pack = control.source.simulated_pack
    state = "batmux/tesla/state"
    async with recording(broker.port) as rec, running(gateway):
        await rec.wait_for(lambda: state in rec.messages)
        await rec.wait_for(lambda: any(t.endswith("tesla/contactor/config") for t in rec.messages))
        switch = [t for t in rec.messages if t.endswith("tesla/contactor/config")]
        ha = rec.json(switch[0])
        assert ha["command_topic"] == "batmux/tesla/contactor/set"
        assert (ha["payload_on"], ha["payload_off"]) == ("close", "open")
        assert rec.json(state)["contactor"] == "open"
        pack.alerts.add("a019_module_ot")  # a fault alarm: a close must be refused
        await rec.wait_for(lambda: not control._locks.no_fault)
        assert rec.client is not None
        await rec.client.publish("batmux/tesla/contactor/set", b"close")
        await rec.wait_for(lambda: "refused" in rec.json(state)["contactor_reason"])
        assert "fault alarm" in rec.json(state)["contactor_reason"]
        assert pack.state == "open" and pack.keepalive_frames == 0
        pack.alerts.clear()
        await asyncio.sleep(2.2)  # the command writer spaces writes 2 s apart
        await rec.client.publish("batmux/tesla/contactor/set", b"close")
        await rec.wait_for(lambda: rec.json(state)["contactor"] == "closed", timeout=15)
        await rec.client.publish("batmux/tesla/contactor/set", b"open")
        await rec.wait_for(lambda: rec.json(state)["contactor"] == "open", timeout=15)
        assert pack.state == "open"


def test_sigterm_to_batmux_run_opens_first(tmp_path: Path) -> None:
    """A real ``batmux run`` with the simulated pack: SIGTERM while closed runs the open
    sequence and waits for the pack to report open before the process exits."""
    config = tmp_path / "batmux.yaml"
    config.write_text(
        f"sample_period: 0.2\nstate_dir: {tmp_path}\nbatteries:\n  - name: tesla\n"
        "    type: tesla_model3\n    address: sim\n    allow_control: true\n"
        "    contactors: {close_on_start: true, open_step_s: 0.2}\n"
    )
    batmux = str(Path(sys.executable).parent / "batmux")
    log_path = tmp_path / "run.log"
    with log_path.open("w") as out:
        proc = subprocess.Popen([batmux, "run", "-c", str(config)], stdout=out, stderr=out)
        try:
            end = time.monotonic() + 20
            while "-> closed" not in log_path.read_text():
                assert time.monotonic() < end and proc.poll() is None, log_path.read_text()
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log_path.read_text()
    opening = text.index("closed -> opening (shutdown)")
    assert text.index("opening -> open (pack reports open)") > opening


async def test_close_on_start_waits_for_the_interlocks(tmp_path: Path) -> None:
    """HVIL open at start: no keep-alive, the refusal is published; once HVIL closes it closes."""
    await refused_until_set(tesla(tmp_path, **CONTROL), "hvil_ok", "HVIL open")


class _FailingPack:
    """A CAN source stand-in: two good closed-pack samples, then the given error."""

    name = "tesla"
    health = None

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    async def sample(self) -> Any:
        from batmux.model.sample import BatterySample

        self.calls += 1
        if self.calls > 2:
            raise self.error
        return BatterySample(timestamp=1.0, extra={"contactor": "closed", "hvil_ok": True})


@pytest.mark.parametrize("error", ["link", "protocol"])
async def test_a_failing_source_opens_like_stale_data(error: str) -> None:
    from types import SimpleNamespace

    from batmux.errors import LinkError, ProtocolError

    exc = LinkError("bus gone") if error == "link" else ProtocolError("bad frame")
    settings = SimpleNamespace(close_on_start=True, open_step_s=3.0, close_timeout_s=10.0)
    control = TeslaControl(_FailingPack(exc), settings, clock=lambda: 0.0)  # type: ignore[arg-type]
    await control.sample()  # close_on_start: precharge
    await control.sample()  # the pack reports closed
    assert control.machine.state == State.CLOSED
    with pytest.raises(type(exc)):
        await control.sample()
    assert control.machine.state == State.OPENING
    assert control.machine.reason == "stale data"
