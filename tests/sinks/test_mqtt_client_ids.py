"""Every MQTT connection of one gateway has its own client id when ``mqtt.client_id`` is set:
a broker drops the older of two sessions with one id, so a shared id makes them take turns."""

from __future__ import annotations

from batmux.config import parse_config
from batmux.sinks.mqtt import client_kwargs


def test_each_role_connects_under_its_own_id() -> None:
    mqtt = parse_config({"mqtt": {"url": "mqtt://broker:1883", "client_id": "garage"}}).mqtt
    assert mqtt is not None
    assert client_kwargs(mqtt)["identifier"] == "garage"  # the MQTT sink itself
    ids = {role: client_kwargs(mqtt, role=role)["identifier"]
           for role in ("netzero", "relays", "inject")}  # fmt: skip
    assert ids == {
        "netzero": "garage-netzero",
        "relays": "garage-relays",
        "inject": "garage-inject",
    }
    plain = parse_config({"mqtt": {"url": "mqtt://broker:1883"}}).mqtt
    assert plain is not None and "identifier" not in client_kwargs(plain, role="relays")
