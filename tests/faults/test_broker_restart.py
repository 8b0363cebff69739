"""mosquitto stopped (or killed) for a few seconds and started again (retained messages gone):
a main gateway whose group is fed by a remote gateway over that broker reports its group
stale (0 A) on the hub, which the inverters and Venus read, while the broker is away; when the
broker returns, both gateways reconnect, republish their retained states and the group is
live again. Nothing that was measured is lost: the meters keep counting through the outage."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from faults.fault_helpers import report, watching
from mqtt_helpers import running

OUTAGE_S = 4.0
STALE_AFTER = 1.5


def gateways(url: str, tmp_path: Path) -> tuple[Gateway, Gateway]:
    remote = parse_config(
        {
            "mqtt": {"url": url, "base_topic": "remote", "discovery": False},
            "sample_period": 0.2,
            "publish_period": 0.5,
            "state_dir": str(tmp_path / "r"),
            "batteries": [{"name": "ra", "type": "jbd", "sim": {"cells": 16, "current": 20}}],
        }
    )
    limits = {"stale_after": STALE_AFTER, "hold_s": 0.5, "ramp_a_per_s": 500}
    main = parse_config(
        {
            "mqtt": {"url": url, "base_topic": "main"},
            "sample_period": 0.2,
            "publish_period": 0.5,
            "state_dir": str(tmp_path / "m"),
            "batteries": [
                {"name": "a", "type": "batmux_remote", "topic": "remote/ra/state", "limits": limits}
            ],
            "groups": [{"name": "bank", "members": ["a"], "limits": limits}],
        }
    )
    return Gateway(remote), Gateway(main)


def live(gateway: Gateway) -> bool:
    state = gateway.hub.latest("bank")
    return bool(state and state.available and state.limits and state.limits.charge_current_a > 0)


async def until(check: Any, timeout: float) -> float:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    return time.monotonic()


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_broker_restart(broker: Any, tmp_path: Path, how: str) -> None:
    """stopped: mosquitto hands out the clients' last wills as it goes (so the remote's
    ``offline`` arrives); killed (-9): no will, the remote's samples only grow old."""
    if broker.kind != "mosquitto":
        pytest.skip("needs a broker process to stop")
    remote, main = gateways(broker.url, tmp_path)
    wire(remote)
    wire(main)
    async with running(remote), running(main):
        await until(lambda: live(main), 20)
        charged = remote.batteries["ra"].meters.charged_wh
        down = time.monotonic()
        if how == "stopped":
            broker.stop_process()
        else:
            broker._process.kill()
            broker._process.wait()
        safe = await until(lambda: not live(main), 10)
        assert safe - down < STALE_AFTER + 0.5 + 1.0  # + one publish period + slack
        state = main.hub.latest("bank")
        assert state is not None and state.limits is not None
        assert state.limits.charge_current_a == state.limits.discharge_current_a == 0
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
        assert remote.batteries["ra"].meters.charged_wh > charged  # still counting
        broker.start_process()
        up = time.monotonic()
        async with watching(broker.port, ["main/bank/state", "homeassistant/#"]) as w:
            retained = await w.until(lambda: bool((w.last_json("main/bank/state") or {})
                                                  .get("available")), 30)  # fmt: skip
            back = await until(lambda: live(main), 30)
            assert any("/batmux_bank/" in t for _, t, _ in w.log)  # discovery again
    report(
        f"MQTT broker {how} and restarted",
        outage_s=OUTAGE_S,
        bound="at once (last will)" if how == "stopped" else "stale_after + publish_period",
        seconds_to_safe_state=round(safe - down, 2),
        stale_after=STALE_AFTER,
        seconds_broker_up_to_retained_state=round(retained - up, 2),
        seconds_broker_up_to_live_limits=round(back - up, 2),
        lost="nothing measured: meters kept counting; retained states and discovery republished",
    )
