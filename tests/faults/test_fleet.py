"""A fleet (docs/fleet.md): two remote gateways (``mqtt.gateway: garage`` / ``shed``, each with a
battery called ``house``) and a main gateway whose bank has one member on each, all real
``batmux run`` processes on mosquitto over loopback.

On one broker: the remotes' HA discovery never collides; ``kill -9`` of one remote takes the
bank to 0 A within the bound and it recovers when the remote returns; a broker restart
reconnects everyone. Through a bridge (site mosquitto → main mosquitto, ``batmux/#``), the main
gateway reads the remotes' batteries on its own broker, the same kill reaches the bank, and a
restart of the main broker is survived by the bridge and the gateways alike.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from broker_process import free_port, mosquitto_binary, start_mosquitto
from broker_process import stop as stop_broker
from faults.fault_helpers import kill9, report, safe_group, start_batmux, stop, watching

BANK = "batmux/main/bank/state"
STALE_AFTER = 2.0
HOLD_S = 1.0
BOUND_S = 1.5  # the remote's last will: one sample period + the early publish (docs/fleet.md)


def remote_config(url: str, state_dir: Path, gateway: str, discovery: bool) -> dict[str, Any]:
    return {
        "mqtt": {"url": url, "gateway": gateway, "discovery": discovery},
        "sample_period": 0.2,
        "publish_period": 0.5,
        "state_dir": str(state_dir),
        "batteries": [
            {"name": "house", "type": "jbd", "timeout": 1.0,
             "sim": {"cells": 16, "soc": 60, "current": 10}},
        ],
    }  # fmt: skip


def main_config(url: str, state_dir: Path) -> dict[str, Any]:
    limits = {"stale_after": STALE_AFTER, "hold_s": HOLD_S, "ramp_a_per_s": 200}
    member = {"type": "batmux_remote", "limits": limits}
    return {
        "mqtt": {"url": url, "gateway": "main", "discovery": False},
        "sample_period": 0.2,
        "publish_period": 1.0,
        "state_dir": str(state_dir),
        "batteries": [
            {"name": "garage_house", "topic": "batmux/garage/house/state", **member},
            {"name": "shed_house", "topic": "batmux/shed/house/state", **member},
        ],
        "groups": [
            {"name": "bank", "mode": "parallel", "members": ["garage_house", "shed_house"],
             "min_members": 2, "limits": limits},
        ],
    }  # fmt: skip


def live(state: Any) -> bool:
    return bool(state and state.get("available") and state.get("charge_current_limit", 0) > 0)


class Fleet:
    """The three gateway processes; remotes on ``site_url``, the main one on ``main_url``."""

    def __init__(self, site_url: str, main_url: str, tmp: Path, discovery: bool = False) -> None:
        self.site_url, self.tmp, self.discovery = site_url, tmp, discovery
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in ("garage", "shed"):
            self.start_remote(name)
        self.procs["main"] = start_batmux(main_config(main_url, tmp / "main"), tmp, "main")

    def start_remote(self, name: str) -> None:
        cfg = remote_config(self.site_url, self.tmp / name, name, self.discovery)
        self.procs[name] = start_batmux(cfg, self.tmp, name)

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc)


async def kill_and_return(port: int, fleet: Fleet, scenario: str) -> dict[str, float]:
    """kill -9 the shed gateway: the bank must reach the stale state (0 A) within the bound,
    never raise its limits meanwhile, and come back live after the shed returns."""
    async with watching(port, [BANK]) as w:
        await w.until(lambda: live(w.last_json(BANK)), 30)
        ccl_before = w.last_json(BANK)["charge_current_limit"]
        killed = time.monotonic()
        kill9(fleet.procs["shed"])
        safe_at = await w.until(lambda: safe_group(w.last_json(BANK)), 10)
        states = [json.loads(p) for t, _, p in w.log if t > killed]
        assert all(s["charge_current_limit"] <= ccl_before for s in states)
        restarted = time.monotonic()
        fleet.start_remote("shed")
        back_at = await w.until(lambda: live(w.last_json(BANK)), 30)
    figures = {
        "seconds_to_0A": round(safe_at - killed, 2),
        "seconds_to_limits_after_restart": round(back_at - restarted, 2),
    }
    report(scenario, **figures, hold_s=HOLD_S)
    assert safe_at - killed < BOUND_S, figures
    return figures


def unique_ids(log: list[tuple[float, str, bytes]]) -> dict[str, set[str]]:
    """Gateway → the unique_ids and device identifiers its discovery configs carry."""
    out: dict[str, set[str]] = {}
    for _, topic, payload in log:
        if not payload or not topic.endswith("/config"):
            continue
        cfg = json.loads(payload)
        gateway = cfg["device"].get("via_device") or cfg["device"]["identifiers"][0]
        ids = out.setdefault(gateway, set())
        ids.add(cfg["unique_id"])
        ids.add(topic)
        ids.update(cfg["device"]["identifiers"])
    return out


async def test_fleet_on_one_broker(broker: Any, tmp_path: Path) -> None:
    if broker.kind != "mosquitto":
        pytest.skip("needs a broker process to restart")
    fleet = Fleet(broker.url, broker.url, tmp_path, discovery=True)
    try:
        async with watching(broker.port, ["homeassistant/#"]) as w:
            both = ("batmux_gateway_garage", "batmux_gateway_shed")
            await w.until(lambda: all(g in unique_ids(w.log) for g in both), 30)
            await w.until(lambda: all(len(unique_ids(w.log)[g]) > 10 for g in both), 10)
            ids = unique_ids(w.log)
        garage, shed = ids["batmux_gateway_garage"], ids["batmux_gateway_shed"]
        assert not garage & shed  # two "house" batteries, two devices, no shared id or topic
        assert "batmux_garage_house_voltage" in garage and "batmux_shed_house_voltage" in shed

        await kill_and_return(broker.port, fleet, "fleet: remote gateway killed (one broker)")

        async with watching(broker.port, [BANK]) as w:
            await w.until(lambda: live(w.last_json(BANK)), 10)
        down = time.monotonic()
        await broker.restart()  # retained messages are lost: everyone must republish
        up = time.monotonic()
        async with watching(broker.port, [BANK]) as w:
            back_at = await w.until(lambda: live(w.last_json(BANK)), 30)
        report("fleet: broker restarted", seconds_down=round(up - down, 2),
               seconds_up_to_live_limits=round(back_at - up, 2))  # fmt: skip
    finally:
        fleet.stop()


def bridge_conf(workdir: Path, port: int, main_port: int) -> Path:
    """The site broker: its own listener and a bridge carrying ``batmux/#`` to the main broker
    both ways (retained flags and QoS 1 kept; mosquitto's try_private stops loops)."""
    conf = workdir / "site.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "connection site-to-main\n"
        f"address 127.0.0.1:{main_port}\n"
        "topic batmux/# both 1\n"
        "cleansession true\n"
        "restart_timeout 1 5\n"
    )
    return conf


async def test_fleet_through_a_bridge(broker: Any, tmp_path: Path) -> None:
    binary = mosquitto_binary()
    if broker.kind != "mosquitto" or binary is None:
        pytest.skip("needs mosquitto for the bridge")
    site_port = free_port()
    site = start_mosquitto(binary, bridge_conf(tmp_path, site_port, broker.port), site_port)
    fleet = Fleet(f"mqtt://127.0.0.1:{site_port}", broker.url, tmp_path)
    try:
        await kill_and_return(broker.port, fleet, "fleet: remote gateway killed (through a bridge)")
        down = time.monotonic()
        await broker.restart()  # the main broker: the bridge and the main gateway reconnect
        up, up_wall = time.monotonic(), time.time()
        remotes = ("batmux/garage/house/state", "batmux/shed/house/state")

        def bridged() -> bool:  # both remotes' states measured after the restart arrived
            states = [w.last_json(t) for t in remotes]
            return all(s and s.get("timestamp", 0) > up_wall for s in states)

        async with watching(broker.port, [BANK, *remotes]) as w:
            bridge_at = await w.until(bridged, 30)
            back_at = await w.until(lambda: live(w.last_json(BANK)), 30)
        report("fleet: main broker restarted behind a bridge", seconds_down=round(up - down, 2),
               seconds_up_to_bridged_states=round(bridge_at - up, 2),
               seconds_up_to_live_limits=round(back_at - up, 2))  # fmt: skip
    finally:
        fleet.stop()
        stop_broker(site)


@pytest.mark.soak
async def test_fleet_through_a_bridge_many_kills(broker: Any, tmp_path: Path) -> None:
    """10 kill/return cycles through the bridge; the bound must hold every time."""
    binary = mosquitto_binary()
    if broker.kind != "mosquitto" or binary is None:
        pytest.skip("needs mosquitto for the bridge")
    site_port = free_port()
    site = start_mosquitto(binary, bridge_conf(tmp_path, site_port, broker.port), site_port)
    fleet = Fleet(f"mqtt://127.0.0.1:{site_port}", broker.url, tmp_path)
    try:
        worst = 0.0
        for i in range(10):
            figures = await kill_and_return(broker.port, fleet, f"fleet: bridge kill {i + 1}")
            worst = max(worst, figures["seconds_to_0A"])
        report("fleet: 10 kills through a bridge", worst_seconds_to_0A=worst)
    finally:
        fleet.stop()
        stop_broker(site)
