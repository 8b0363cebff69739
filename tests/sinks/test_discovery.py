"""The Home Assistant discovery builder for ``time_to_go`` (pure: state JSON → configs)."""

from __future__ import annotations

from batmux.model.state import BatteryState
from batmux.sinks.discovery import Topics, discovery_messages
from core.bank_factory import sample

TOPICS = Topics(base="batmux", prefix="homeassistant")


def test_time_to_go_sensor_is_a_duration_in_seconds() -> None:
    state = BatteryState("pack1", True, sample(0.0, current_a=-30.0), time_to_go_s=6000)
    payload = state.to_json()
    assert payload["time_to_go"] == 6000
    configs = discovery_messages("pack1", payload, TOPICS, model="jk")
    cfg = configs["homeassistant/sensor/batmux_pack1/time_to_go/config"]
    assert cfg == {
        "name": "Time to go",
        "unique_id": "batmux_pack1_time_to_go",
        "object_id": "batmux_pack1_time_to_go",
        "state_topic": "batmux/pack1/state",
        "value_template": "{{ value_json.time_to_go }}",
        "availability": [{"topic": "batmux/status"}, {"topic": "batmux/pack1/availability"}],
        "availability_mode": "all",
        "device": {
            "identifiers": ["batmux_pack1"],
            "name": "pack1",
            "manufacturer": "batmux",
            "model": "jk",
            "sw_version": cfg["device"]["sw_version"],
        },
        "unit_of_measurement": "s",
        "device_class": "duration",
        "state_class": "measurement",
        "suggested_display_precision": 0,
    }


def test_unknown_time_to_go_is_null_and_still_announced() -> None:
    # null renders as "None", which HA's MQTT sensor takes as "unknown"
    payload = BatteryState("bank", True, sample(0.0, current_a=5.0), is_group=True).to_json()
    assert payload["time_to_go"] is None
    configs = discovery_messages("bank", payload, TOPICS, is_group=True)
    assert "homeassistant/sensor/batmux_bank/time_to_go/config" in configs
