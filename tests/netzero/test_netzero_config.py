"""The `netzero:` contract keys parse; bad ones fail with file, field and reason."""

from __future__ import annotations

from typing import Any

import pytest

from batmux.config import parse_config
from batmux.errors import ConfigError

BATTERY = {"name": "bank", "type": "jk", "address": "sim"}
CONTRACT: dict[str, Any] = {
    "battery": "bank",
    "target_w": 10,
    "hysteresis_w": 20,
    "mode": "discharge",
    "consumption": [
        {"mqtt": {"topic": "meter/power", "format": "number"}},
        {
            "http": {
                "url": "http://meter.lan/status",
                "path": "total_power",
                "factor": 1,
                "interval": 2,
            }
        },
    ],
    "inverters": [
        {
            "type": "ahoydtu",
            "url": "http://ahoy.lan",
            "id": 0,
            "max_power": 600,
            "power_lut": "hm600.lut",
        },
    ],
    "chargers": [{"type": "shelly", "url": "http://shelly.lan", "relay": 0, "power": 500}],
}


def _config(netzero: dict[str, Any], mqtt: bool = True) -> Any:
    data: dict[str, Any] = {"batteries": [BATTERY], "netzero": netzero}
    if mqtt:
        data["mqtt"] = {"url": "mqtt://127.0.0.1:1883"}
    return parse_config(data, "batmux.yaml")


def test_the_issue_contract_parses() -> None:
    nz = _config(CONTRACT).netzero
    assert nz is not None
    assert (nz.battery, nz.target_w, nz.hysteresis_w, nz.mode) == ("bank", 10, 20, "discharge")
    assert nz.consumption[0].mqtt is not None and nz.consumption[0].mqtt.format == "number"
    assert nz.consumption[1].http is not None and nz.consumption[1].http.interval == 2
    assert nz.inverters[0].max_power == 600 and nz.chargers[0].power == 500
    assert (nz.guards.cell_low, nz.guards.cell_high, nz.guards.mqtt_offline) == (3.1, 3.65, 60)
    assert _config({"battery": "bank", "consumption": CONTRACT["consumption"][1:]}).netzero


BAD: list[tuple[dict[str, Any], str]] = [
    (
        {"battery": "house"},
        "netzero.battery: battery 'house' is not a configured battery or group (known: bank)",
    ),
    (
        {"mode": "grid"},
        "netzero.mode: Input should be 'charge', 'discharge', 'idle' or 'protect'",
    ),
    ({"consumption": []}, "netzero.consumption: List should have at least 1 item"),
    (
        {"consumption": [{"mqtt": {"topic": "m", "format": "json"}}]},
        "netzero.consumption[0].mqtt: format 'json' needs 'path:'",
    ),
    (
        {"consumption": [{"mqtt": {"topic": "m"}, "http": {"url": "http://x", "path": "p"}}]},
        "netzero.consumption[0]: give exactly one of 'mqtt:' or 'http:'",
    ),
    (
        {"consumption": [{"http": {"url": "ftp://x", "path": "p"}}]},
        "netzero.consumption[0].http.url: String should match pattern",
    ),
    ({"guards": {"cell_low": 3.7}}, "netzero.guards: cell_low must be below cell_high"),
    ({"guards": {"cell_lo": 3.0}}, "netzero.guards.cell_lo: unknown key (typo?)"),
    ({"target": 5}, "netzero.target: unknown key (typo?)"),
    (
        {"inverters": [{"type": "opendtu", "url": "http://o", "max_power": 800}]},
        "netzero.inverters[0]: an 'opendtu' inverter needs 'serial:'",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_config_is_located(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config({**CONTRACT, **change})
    assert str(err.value).startswith(f"batmux.yaml: {message}")


def test_mqtt_meter_needs_the_mqtt_section() -> None:
    with pytest.raises(ConfigError) as err:
        _config(CONTRACT, mqtt=False)
    assert str(err.value).startswith(
        "batmux.yaml: netzero.consumption[0].mqtt: an MQTT meter needs the 'mqtt:' section"
    )
