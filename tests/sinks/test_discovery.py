"""Golden tests of the Home Assistant discovery builder (pure: state JSON → configs)."""

from __future__ import annotations

from batmux import __version__
from batmux.model.state import BatteryState, MemberCounts
from batmux.sinks.discovery import Topics, discovery_messages
from batmux.sinks.discovery_device import gateway_messages, identity
from core.bank_factory import cells, sample

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
        "default_entity_id": "sensor.batmux_pack1_time_to_go",
        "origin": {"name": "batmux", "sw_version": __version__},
        "state_topic": "batmux/pack1/state",
        "value_template": "{{ value_json.time_to_go }}",
        "availability": [{"topic": "batmux/status"}, {"topic": "batmux/pack1/availability"}],
        "availability_mode": "all",
        "device": {
            "identifiers": ["batmux_pack1"],
            "name": "pack1",
            "manufacturer": "JK BMS",
            "model": "jk",
            "via_device": "batmux_gateway",
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


def jk_pack() -> tuple[dict, dict[str, dict]]:  # type: ignore[type-arg]
    """A JK pack on BLE with control allowed; device info as the JK device-info frame gives it."""
    state = BatteryState(
        "pack_b", True, sample(0.0, cells=cells(4), current_a=-30.0), diagnostics={"drops": 0}
    )
    payload = state.to_json()
    bms = identity(
        payload,
        {"model": "JK_B2A24S15P", "hw_version": "11.XW", "sw_version": "11.26",
         "serial_number": "4041352076"},
    )  # fmt: skip
    configs = discovery_messages(
        "pack_b",
        payload,
        TOPICS,
        model="jk02_32s",
        allow_control=True,
        diagnostics=state.diagnostics,
        bms=bms,
        address="c8:47:8c:e1:2a:01",
    )
    return payload, configs


def test_no_config_carries_the_deprecated_object_id() -> None:
    _, configs = jk_pack()
    assert configs and all("object_id" not in c for c in configs.values())
    for topic, cfg in configs.items():
        component, node, key = topic.split("/")[1:4]
        assert node == "batmux_pack_b"
        # <component>.batmux_<battery>_<key>: stable whatever HA derives from the name
        assert cfg["default_entity_id"] == f"{component}.{cfg['unique_id']}"
        assert cfg["unique_id"] == f"batmux_pack_b_{key}"
        assert cfg["origin"] == {"name": "batmux", "sw_version": __version__}


def test_device_block_names_the_bms_its_mac_and_the_gateway() -> None:
    _, configs = jk_pack()
    device = configs["homeassistant/sensor/batmux_pack_b/voltage/config"]["device"]
    assert device == {
        "identifiers": ["batmux_pack_b"],
        "name": "pack_b",
        "manufacturer": "JK BMS",
        "model": "JK_B2A24S15P",
        "hw_version": "11.XW",
        "sw_version": "11.26",
        "serial_number": "4041352076",
        "connections": [["bluetooth", "C8:47:8C:E1:2A:01"]],
        "via_device": "batmux_gateway",
    }
    # Every entity of the battery carries the same device.
    assert all(c["device"] == device for c in configs.values())


def test_protocol_identity_from_the_state_json_wins() -> None:
    """A Pylontech-protocol pack reports its maker and versions in its own frames (extras)."""
    payload = {"manufacturer": "PYLON", "hardware_version": "1.3", "software_version": 5}
    bms = identity(payload, {"hw_version": "ignored", "serial_number": "S1"})
    assert bms == {
        "manufacturer": "PYLON",
        "hw_version": "1.3",
        "sw_version": "5",
        "serial_number": "S1",
    }
    configs = discovery_messages("can", {"voltage": 52.0}, TOPICS, model="pylontech_can", bms=bms)
    device = configs["homeassistant/sensor/batmux_can/voltage/config"]["device"]
    assert device["manufacturer"] == "PYLON" and device["model"] == "pylontech_can"
    assert "connections" not in device  # a CAN bus has no MAC
    # A generic protocol that says nothing about its maker gets no manufacturer.
    bare = discovery_messages("feed", {"voltage": 52.0}, TOPICS, model="mqtt_json")
    assert "manufacturer" not in bare["homeassistant/sensor/batmux_feed/voltage/config"]["device"]


def test_diagnostics_stay_available_when_the_battery_is_not() -> None:
    _, configs = jk_pack()
    diag = configs["homeassistant/sensor/batmux_pack_b/diag_drops/config"]
    assert diag["availability"] == [{"topic": "batmux/status"}]
    assert "availability_mode" not in diag
    assert diag["entity_category"] == "diagnostic"
    voltage = configs["homeassistant/sensor/batmux_pack_b/voltage/config"]
    assert {"topic": "batmux/pack_b/availability"} in voltage["availability"]


def test_switch_has_its_own_state_topic() -> None:
    _, configs = jk_pack()
    switch = configs["homeassistant/switch/batmux_pack_b/charge/config"]
    assert switch["state_topic"] == "batmux/pack_b/charge/state"
    assert switch["command_topic"] == "batmux/pack_b/charge/set"
    assert "value_template" not in switch
    assert switch["default_entity_id"] == "switch.batmux_pack_b_charge"
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")


def test_a_bank_has_its_own_entities_not_its_members_cells() -> None:
    """2 × 16S in parallel: the bank's state JSON carries 32 cells and 4 probes, but its device
    gets bank-level entities only (cell min/max/delta, member counts); cells are the members'."""
    bank_sample = sample(0.0, cells=cells(16) + cells(16), temperatures_c=(25.0, 26.0, 24.0, 25.0))
    members = MemberCounts(online=2, offline=0, blocking_charge=0, blocking_discharge=0)
    state = BatteryState("bank", True, bank_sample, is_group=True, members=members)
    payload = state.to_json()
    assert len(payload["cell_voltages"]) == 32
    configs = discovery_messages("bank", payload, TOPICS, is_group=True)
    keys = {topic.split("/")[3] for topic in configs}
    assert not {k for k in keys if k.startswith(("cell_", "temperature_"))} - {
        "cell_min", "cell_max", "cell_delta"
    }  # fmt: skip
    assert {"voltage", "current", "power", "soc", "members_online", "cell_delta"} <= keys
    device = configs["homeassistant/sensor/batmux_bank/voltage/config"]["device"]
    assert device["model"] == "Battery group" and device["via_device"] == "batmux_gateway"
    assert len(configs) < 30


def test_gateway_device_with_its_status_entity() -> None:
    ((topic, cfg),) = gateway_messages("homeassistant", "batmux", "batmux/status").items()
    assert topic == "homeassistant/binary_sensor/batmux_gateway/status/config"
    assert cfg == {
        "name": "Status",
        "unique_id": "batmux_gateway_status",
        "default_entity_id": "binary_sensor.batmux_gateway_status",
        "state_topic": "batmux/status",
        "payload_on": "online",
        "payload_off": "offline",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "device": {
            "identifiers": ["batmux_gateway"],
            "name": "batmux",
            "manufacturer": "batmux",
            "model": "Battery gateway",
            "sw_version": __version__,
        },
        "origin": {"name": "batmux", "sw_version": __version__},
    }
    other = gateway_messages("homeassistant", "garage/batmux", "garage/batmux/status")
    assert "homeassistant/binary_sensor/batmux_gateway_garage_batmux/status/config" in other


def test_named_gateways_never_share_an_id_topic_or_device() -> None:
    """``mqtt.gateway``: two gateways' batteries of the same name stay apart (docs/fleet.md)."""
    from batmux.config import parse_config

    seen: list[set[str]] = []
    for gateway in ("garage", "shed"):
        mqtt = parse_config({"mqtt": {"gateway": gateway}}).mqtt
        assert mqtt is not None and mqtt.base_topic == f"batmux/{gateway}"
        topics = Topics(mqtt.base_topic, mqtt.discovery_prefix, gateway)
        payload = BatteryState("house", True, sample(0.0, cells=cells(4))).to_json()
        configs = discovery_messages("house", payload, topics, model="jbd")
        configs.update(gateway_messages(topics.prefix, topics.base, topics.status, gateway))
        ids = set(configs)
        for cfg in configs.values():
            ids.add(cfg["unique_id"])
            ids.update(cfg["device"]["identifiers"])
            assert cfg.get("state_topic", "").startswith(f"batmux/{gateway}/")
        voltage = configs[f"homeassistant/sensor/batmux_{gateway}_house/voltage/config"]
        assert voltage["unique_id"] == f"batmux_{gateway}_house_voltage"
        assert voltage["device"]["via_device"] == f"batmux_gateway_{gateway}"
        gw = configs[f"homeassistant/binary_sensor/batmux_gateway_{gateway}/status/config"]
        assert gw["device"]["name"] == f"batmux {gateway}"
        seen.append(ids)
    assert not seen[0] & seen[1]
    # an explicit base_topic still wins; without a gateway name nothing changes
    explicit = parse_config({"mqtt": {"gateway": "rv", "base_topic": "rv"}}).mqtt
    assert explicit is not None and explicit.base_topic == "rv"
    plain = parse_config({}).mqtt
    assert plain is None or (plain.base_topic == "batmux" and plain.gateway is None)
