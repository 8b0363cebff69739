"""The vehicle-presence frames on python-can's virtual bus: a simulated pack that, like newer
firmware, needs them besides 0x221 (``require_presence``) closes when the gateway sends them and
stays open (batmux: close timeout → fault) when they are switched off."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from batmux.core.contactor import State
from batmux.devices.tesla_control import TeslaControl
from batmux.errors import ConfigError
from batmux.model.sample import BatterySample
from batmux.sim.tesla_model3 import REQUIRED_PRESENCE
from tesla_helpers import CONTROL, contactor, running, tesla, until


async def test_pack_needing_presence_closes_with_them_and_refuses_without(
    tmp_path: Path,
) -> None:
    gateway = tesla(tmp_path, **CONTROL)
    control = gateway.batteries["tesla"].source
    pack = control.source.simulated_pack
    pack.require_presence = True
    async with running(gateway):
        await until(lambda: contactor(gateway) == "closed")
        assert pack.state == "closed" and not pack.presence_missing()
        assert pack.bad_presence_frames == 0 and pack.bad_keepalive_frames == 0
        await until(lambda: control.presence.sent.get(0x3A1, 0) > 0)  # only once closed
    assert pack.state == "open"  # shutdown still opened it

    off = {**CONTROL["contactors"], "presence_frames": False, "close_timeout_s": 1.0}
    gateway = tesla(tmp_path, allow_control=True, contactors=off)
    control = gateway.batteries["tesla"].source
    pack = control.source.simulated_pack
    pack.require_presence = True
    async with running(gateway):
        await until(lambda: control.machine.state == State.FAULT)
        assert pack.keepalive_frames > 0 and pack.bad_keepalive_frames == 0  # 0x221 was fine
        assert pack.state == "open"
        assert pack.presence_missing() == list(REQUIRED_PRESENCE)
        assert control.presence is None and control.presence_sent == 0


class _Pack:
    """A CAN source stand-in reporting the pack's contactor state it is given."""

    name = "tesla"
    health = None

    def __init__(self) -> None:
        self.contactor = "open"

    async def sample(self) -> BatterySample:
        return BatterySample(timestamp=1.0, extra={"contactor": self.contactor, "hvil_ok": True})


def _ids(control: TeslaControl, ticks: range) -> set[int]:
    return {can_id for t in ticks for can_id, _ in control.presence_now(t)}


async def test_presence_only_while_0x221_is_sent() -> None:
    now = [0.0]
    settings = SimpleNamespace(close_on_start=False, open_step_s=3.0, close_timeout_s=10.0)
    pack = _Pack()
    control = TeslaControl(pack, settings, clock=lambda: now[0])  # type: ignore[arg-type]
    await control.sample()
    assert control.presence is not None and _ids(control, range(200)) == set()  # open: silent
    control.command("close")
    await control.sample()  # precharge: the car is there, 0x3A1 not yet
    sent = _ids(control, range(200))
    assert {0x118, 0x2E1, 0x3C2, 0x39D, 0x7FF, 0x321} <= sent and 0x3A1 not in sent
    pack.contactor = "closed"
    await control.sample()
    assert 0x3A1 in _ids(control, range(10))
    control.muted = True  # the car gone from the wire (fault injection): all of it
    assert _ids(control, range(200)) == set()
    control.muted = False
    control.command("open")
    await control.sample()
    now[0] += 8.9  # ACCESSORY, GOING_DOWN, OFF: still present
    assert control.frames_now() is not None and 0x118 in _ids(control, range(2))
    now[0] += 0.2  # after the sequence: silence, like 0x221
    assert control.frames_now() is None and _ids(control, range(200)) == set()


def test_car_config_from_the_config_reaches_0x7ff(tmp_path: Path) -> None:
    car = {"country": "GB", "right_hand_drive": True, "map_region": 1, "chassis": 2}
    contactors = {**CONTROL["contactors"], "car_config": car}
    control = tesla(tmp_path, allow_control=True, contactors=contactors).batteries["tesla"].source
    muxes = control.presence.car.muxes()  # TESLA-BATTERY.h's "UK/RHD" and "EU" examples
    assert (muxes[0].hex().upper(), muxes[2].hex().upper()) == (
        "0149424700031501",
        "0301084801000012",
    )
    with pytest.raises(ConfigError, match="country"):
        tesla(tmp_path, allow_control=True, contactors={"car_config": {"country": "gb"}})
