"""Every member of a group gone (one failed adapter is enough): no retained message may keep
offering limits for data that no longer exists. The group's retained MQTT state turns
unavailable with 0 A (reason ``stale``), its availability ``offline``, the retained
``mqtt_json_output`` offers 0 A, and Venus and the inverters get 0 A — also after a restart
that finds the packs already dead and the last run's retained ``available: true`` standing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiomqtt

from batmux.config import parse_config
from batmux.protocols.inverter_limits import LimitKeeper
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sinks.venus_config import VenusConfig
from batmux.sinks.venus_paths import build_paths
from faults.fault_helpers import report, safe_group, watching
from mqtt_helpers import running

STATE, AVAIL, OUT = "batmux/bank/state", "batmux/bank/availability", "out/bank"
STOP_AFTER = 2.5


def config(url: str, state_dir: Path, stop_after: float) -> Any:
    limits = {"stale_after": 1.0}
    pack = {"type": "jbd", "timeout": 0.5, "limits": limits}
    sim = {"cells": 16, "soc": 60, "current": 10, "stop_after": stop_after}
    return parse_config(
        {
            "mqtt": {"url": url, "discovery": False},
            "sample_period": 0.2,
            "publish_period": 0.5,
            "expire_after": 2.0,
            "state_dir": str(state_dir),
            "batteries": [{"name": "a", **pack, "sim": sim}, {"name": "b", **pack, "sim": sim}],
            "groups": [{"name": "bank", "members": ["a", "b"], "limits": limits}],
            "mqtt_json_output": [{"battery": "bank", "topic": OUT, "retain": True}],
        }
    )


def offered_a(payload: bytes | None) -> float | None:
    """MaxChargeCurrent of a retained mqtt_json_output payload (None: nothing retained)."""
    return json.loads(payload)["Info"]["MaxChargeCurrent"] if payload else None


def assert_every_output_safe(gateway: Gateway) -> None:
    state = gateway.hub.latest("bank")
    assert state is not None and not state.available
    assert state.sample is not None  # its last values stay, like a battery's
    limits = LimitKeeper(safe_charge_voltage_v=55.2).limits(state, time.time())
    assert limits is not None and limits.charge_current_a == limits.discharge_current_a == 0
    paths = build_paths(state, VenusConfig(battery="bank"), is_bms=True)
    assert paths["/Info/MaxChargeCurrent"] == paths["/Info/MaxDischargeCurrent"] == 0
    assert paths["/Connected"] == 0


async def test_all_members_gone_every_output_goes_safe(broker: Any, tmp_path: Path) -> None:
    gateway = Gateway(config(broker.url, tmp_path, stop_after=STOP_AFTER))
    wire(gateway)
    async with watching(broker.port, [STATE, AVAIL, OUT]) as w, running(gateway):
        stopped = time.monotonic() + STOP_AFTER  # the simulated packs fall silent then
        await w.until(lambda: (w.last_json(STATE) or {}).get("charge_current_limit", 0) > 0, 10)
        assert (offered_a(w.last(OUT)) or 0) > 0
        safe_at = await w.until(
            lambda: (
                safe_group(w.last_json(STATE))
                and offered_a(w.last(OUT)) == 0
                and w.last(AVAIL) == b"offline"
            ),
            15,
        )
        assert_every_output_safe(gateway)
    # what a client connecting now is handed (the retained messages)
    async with watching(broker.port, [STATE, AVAIL, OUT]) as late:
        await late.until(lambda: late.last(OUT) is not None and late.last(STATE) is not None, 5)
        assert safe_group(late.last_json(STATE))
        assert late.last(AVAIL) == b"offline"
        out = late.last_json(OUT)
        assert out["Info"]["MaxChargeCurrent"] == out["Info"]["MaxDischargeCurrent"] == 0
    report(
        "all members of a group gone",
        seconds_to_safe_retained_state=round(safe_at - stopped, 2),
        bound="stale_after (1 s here) + publish_period",
        lost="nothing",
    )


async def test_restart_with_dead_packs_replaces_stale_retained_limits(
    broker: Any, tmp_path: Path
) -> None:
    # what a previous run left retained on the broker
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        old = {"available": True, "charge_current_limit": 100.0, "discharge_current_limit": 120}
        await client.publish(STATE, json.dumps(old), qos=1, retain=True)
        await client.publish(AVAIL, b"online", qos=1, retain=True)
        offer = {"Dc": {"Voltage": 53.0}, "Soc": 60, "Info": {"MaxChargeCurrent": 100}}
        await client.publish(OUT, json.dumps(offer), qos=1, retain=True)
    gateway = Gateway(config(broker.url, tmp_path, stop_after=0.01))  # never answer
    wire(gateway)
    async with watching(broker.port, [STATE, AVAIL, OUT]) as w, running(gateway):
        await w.until(
            lambda: (
                safe_group(w.last_json(STATE))
                and w.last(OUT) == b""  # the old offer was deleted
                and w.last(AVAIL) == b"offline"
            ),
            10,
        )
        await asyncio.sleep(1.5)  # three publish periods: a state without data goes out once
        stale = [p for _, t, p in w.log if t == STATE and b'"available": false' in p]
        assert stale == [w.last(STATE)]
    async with watching(broker.port, [STATE, OUT]) as late:
        await late.until(lambda: late.last(STATE) is not None, 5)
        assert safe_group(late.last_json(STATE))
        assert late.last(OUT) is None  # nothing retained offers limits any more
