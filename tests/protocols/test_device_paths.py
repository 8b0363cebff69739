"""Device paths pass through only what the decoders keep: a remote batmux's state JSON with a
key named like a limit path must not override batmux's own (0 A while stale) limits."""

from __future__ import annotations

import json

from batmux.model.limits import ChargeLimits
from batmux.model.sample import device_paths
from batmux.model.state import BatteryState
from batmux.protocols.mqtt_json import build_payload, parse_batmux_state


def test_a_remote_key_named_like_a_limit_path_does_not_override_the_limits() -> None:
    payload = {
        "soc": 50.0,
        "voltage": 52.0,
        "current": 1.0,
        "/Info/MaxChargeCurrent": 300,
        "/Io/AllowToCharge": 1,
        "/History/TotalAhDrawn": 5.5,
        "/Dc/0/Temperature": 21.5,
    }
    sample = parse_batmux_state(json.dumps(payload), received_at=100.0).sample
    assert device_paths(sample) == {"/History/TotalAhDrawn": 5.5, "/Dc/0/Temperature": 21.5}

    stale = ChargeLimits(charge_voltage_v=55.2, charge_current_a=0.0, discharge_current_a=0.0)
    state = BatteryState(name="remote", available=False, sample=sample, limits=stale)
    out = build_payload(state)
    assert out["Info"]["MaxChargeCurrent"] == 0.0
    assert "AllowToCharge" not in out.get("Io", {}) or out["Io"]["AllowToCharge"] == 0
    assert out["History"]["TotalAhDrawn"] == 5.5
    assert out["Dc"]["Temperature"] == 21.5
