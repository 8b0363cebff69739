"""Contactor control of a LEAF pack against the simulated pack outside its car (it closes its
main relay only while 0x1D4, 0x1F2, 0x50B and 0x50C keep coming valid), on the virtual bus."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from batmux.core.contactor import State
from batmux.devices.leaf_control import LeafControl
from batmux.runtime.app import Gateway
from tesla_helpers import contactor, one_pack, running, until


def leaf(tmp_path: Path, **pack: Any) -> Gateway:
    battery = {"name": "leaf", "type": "nissan_leaf", "address": "sim", "poll_interval": 0,
               "limits": {"stale_after": 2.0, "hold_s": 0}, **pack}  # fmt: skip
    return one_pack(tmp_path, battery)


async def test_leaf_closes_with_the_keepalive_and_opens_without(tmp_path: Path) -> None:
    control_cfg = {"close_on_start": True, "open_step_s": 0.1, "close_timeout_s": 2}
    gateway = leaf(tmp_path, allow_control=True, contactors=control_cfg)
    control = gateway.batteries["leaf"].source
    assert isinstance(control, LeafControl)
    pack = control.source.simulated_pack
    assert pack.require_keepalive and not pack.relay_closed
    async with running(gateway):
        await until(lambda: contactor(gateway, "leaf") == "closed")
        assert pack.relay_closed and pack.bad_vcm_frames == 0
        assert set(pack.vcm_seen) == {0x1D4, 0x1F2, 0x50B, 0x50C}
        control.muted = True  # the keep-alive is lost on the wire: the pack opens
        await until(lambda: control.machine.state == State.FAULT)
        assert not pack.relay_closed
        assert "while commanded closed" in control.machine.reason


async def test_leaf_shutdown_opens_first(tmp_path: Path) -> None:
    control_cfg = {"close_on_start": True, "open_step_s": 0.1}
    gateway = leaf(tmp_path, allow_control=True, contactors=control_cfg)
    control = gateway.batteries["leaf"].source
    pack = control.source.simulated_pack
    async with running(gateway):
        await until(lambda: contactor(gateway, "leaf") == "closed")
    assert control.machine.state == State.OPEN and not pack.relay_closed
    assert [s.reason for s in control.machine.log][-2:] == ["shutdown", "pack reports open"]


def test_no_keepalive_before_the_pack_is_seen() -> None:
    class Quiet:  # a LEAF source on a bus where no 0x1DB came yet
        name, health = "leaf", None

        def _pack_seen(self) -> bool:
            return False

    settings = SimpleNamespace(close_on_start=False, open_step_s=0.1, close_timeout_s=5.0)
    control = LeafControl(Quiet(), settings, clock=time.monotonic)
    control.machine.state = State.PRECHARGE  # batmux wants it closed
    assert control.frames_now() is None
    control.source._pack_seen = lambda: True  # type: ignore[method-assign]
    ids = [i for i, _ in control.frames_now()]
    assert ids == [0x1D4, 0x1F2, 0x50B, 0x50C]
