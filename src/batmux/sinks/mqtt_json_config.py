"""Config of the ``mqtt_json_output:`` section (kept light: ``config.py`` imports it)."""

from __future__ import annotations

from batmux.modelkit import BaseModel, ConfigDict, Field, field_validator


class MqttJsonOutputConfig(BaseModel):
    """Publish one battery/group in dbus-mqtt-battery's JSON schema to ``topic``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    battery: str = Field(min_length=1)  # a battery or group name
    topic: str = Field(min_length=1)
    url: str | None = None  # broker; default the root ``mqtt.url``
    retain: bool = False

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if any(c in value for c in "#+"):
            raise ValueError("an output topic cannot contain wildcards")
        return value
