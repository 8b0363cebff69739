"""A main gateway reads two batteries of a remote gateway (``batmux_remote``) into a parallel
group with ``min_members: 2``; both gateways are real ``batmux run`` processes on mosquitto.

The remote is killed (``kill -9``: its last will says ``<base>/status offline``), frozen
(``SIGSTOP``: no will for 1.5 keep-alives, only its samples' age tells), or already dead when the
main gateway starts (its retained states must not count as fresh). Each time the group's
retained state must reach the stale state (unavailable, 0 A, reason ``stale``) within the
documented bound and never ramp its limits up meanwhile; after the remote returns the group
recovers through its hold and ramp.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from faults.fault_helpers import kill9, report, safe_group, start_batmux, stop, watching

BANK = "main/bank/state"
STALE_AFTER = 2.0  # the group's and members' limits.stale_after in these tests
HOLD_S = 1.0


def remote_config(url: str, state_dir: Path) -> dict[str, Any]:
    pack = {"type": "jbd", "timeout": 1.0}
    return {
        "mqtt": {"url": url, "base_topic": "remote", "discovery": False},
        "sample_period": 0.2,
        "publish_period": 0.5,
        "state_dir": str(state_dir),
        "batteries": [
            {"name": "ra", **pack, "sim": {"cells": 16, "soc": 60, "current": 10}},
            {"name": "rb", **pack, "sim": {"cells": 16, "soc": 50, "current": 10}},
        ],
    }


def main_config(url: str, state_dir: Path, publish_period: float = 5.0) -> dict[str, Any]:
    limits = {"stale_after": STALE_AFTER, "hold_s": HOLD_S, "ramp_a_per_s": 200}
    member = {"type": "batmux_remote", "limits": limits}
    return {
        "mqtt": {"url": url, "base_topic": "main", "discovery": False},
        "sample_period": 0.2,
        "publish_period": publish_period,  # the default: the safe state must not wait for it
        "state_dir": str(state_dir),
        "batteries": [
            {"name": "a", "topic": "remote/ra/state", **member},
            {"name": "b", "topic": "remote/rb/state", **member},
        ],
        "groups": [
            {
                "name": "bank",
                "mode": "parallel",
                "members": ["a", "b"],
                "min_members": 2,
                "limits": limits,
            }
        ],
    }


def live(state: Any) -> bool:
    return bool(state and state.get("available") and state.get("charge_current_limit", 0) > 0)


async def test_remote_killed_makes_the_group_stale_at_once(broker: Any, tmp_path: Path) -> None:
    remote = start_batmux(remote_config(broker.url, tmp_path / "r"), tmp_path, "remote")
    main = start_batmux(main_config(broker.url, tmp_path / "m"), tmp_path, "main")
    try:
        async with watching(broker.port, [BANK]) as w:
            await w.until(lambda: live(w.last_json(BANK)), 20)
            ccl_before = w.last_json(BANK)["charge_current_limit"]
            killed = time.monotonic()
            kill9(remote)
            safe_at = await w.until(lambda: safe_group(w.last_json(BANK)), 10)
            await asyncio.sleep(3.0)  # the group stays safe: no ramp while its members are gone
            after = [p for t, _, p in w.log if t > killed]
            states = [json.loads(p) for p in after]
            assert all(s["charge_current_limit"] <= ccl_before for s in states)
            assert safe_group(states[-1])
            # within one sample period + the early publish, not after the 5 s publish period
            to_safe = safe_at - killed
            assert to_safe < 1.5, to_safe

            restarted = time.monotonic()
            remote = start_batmux(remote_config(broker.url, tmp_path / "r"), tmp_path, "remote")
            back_at = await w.until(lambda: bool(w.last_json(BANK)["available"]), 20)
            limits_at = await w.until(lambda: live(w.last_json(BANK)), 20)
        report(
            "remote gateway killed (kill -9)",
            seconds_to_safe_state=round(to_safe, 2),
            seconds_to_available_after_restart=round(back_at - restarted, 2),
            seconds_to_limits_after_restart=round(limits_at - restarted, 2),
            hold_s=HOLD_S,
            lost="nothing (the remote's samples while it was dead do not exist)",
        )
    finally:
        stop(main)
        stop(remote)


async def test_remote_frozen_goes_stale_by_the_age_of_its_samples(
    broker: Any, tmp_path: Path
) -> None:
    """SIGSTOP: the TCP connection stays up, no last will for 45 s; only the measurement time
    in the remote's (retained) state tells that its data grows old."""
    remote = start_batmux(remote_config(broker.url, tmp_path / "r"), tmp_path, "remote")
    main = start_batmux(main_config(broker.url, tmp_path / "m", 1.0), tmp_path, "main")
    try:
        async with watching(broker.port, [BANK]) as w:
            await w.until(lambda: live(w.last_json(BANK)), 20)
            frozen = time.monotonic()
            os.kill(remote.pid, signal.SIGSTOP)
            safe_at = await w.until(lambda: safe_group(w.last_json(BANK)), 15)
            # bound: stale_after after the last measurement + one publish period (1 s here)
            to_safe = safe_at - frozen
            assert to_safe < STALE_AFTER + 1.0 + 1.0, to_safe
            thawed = time.monotonic()
            os.kill(remote.pid, signal.SIGCONT)
            back_at = await w.until(lambda: live(w.last_json(BANK)), 20)
        report(
            "remote gateway frozen (SIGSTOP, no last will)",
            seconds_to_safe_state=round(to_safe, 2),
            stale_after=STALE_AFTER,
            seconds_to_limits_after_resume=round(back_at - thawed, 2),
            lost="nothing",
        )
    finally:
        with_cont = remote.poll() is None
        if with_cont:
            os.kill(remote.pid, signal.SIGCONT)
        stop(main)
        stop(remote)


async def test_retained_states_of_a_dead_remote_never_count(broker: Any, tmp_path: Path) -> None:
    """The main gateway starts after the remote died: its retained states arrive 'new' on
    subscribe, but their measurement time and the remote's will say they are gone."""
    remote = start_batmux(remote_config(broker.url, tmp_path / "r"), tmp_path, "remote")
    try:
        async with watching(broker.port, ["remote/+/state"]) as w:
            both = ("remote/ra/state", "remote/rb/state")
            await w.until(lambda: all(w.last_json(t) for t in both), 20)
        kill9(remote)
        main = start_batmux(main_config(broker.url, tmp_path / "m", 0.5), tmp_path, "main")
        try:
            async with watching(broker.port, [BANK]) as w:
                await w.until(lambda: w.last(BANK) is not None, 20)
                await asyncio.sleep(3.0)
                states = w.values(BANK, "available")
                assert states and not any(states)
                assert safe_group(w.last_json(BANK))
        finally:
            stop(main)
    finally:
        stop(remote)
