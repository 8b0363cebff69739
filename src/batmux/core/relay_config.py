"""``relays:`` of an EV pack: external precharge and main relays (see docs/ev-packs.md)."""

from __future__ import annotations

from typing import Literal

from batmux.core.bank_config import _Strict
from batmux.modelkit import Field, model_validator


class RelayChannel(_Strict):
    """One relay. gpiod: ``chip`` + ``line``; http: ``url`` + ``kind`` + ``channel``;
    mqtt: ``topic`` + ``on``/``off`` payloads."""

    chip: str = "/dev/gpiochip0"
    line: int | None = Field(None, ge=0)
    active_low: bool = False
    url: str | None = Field(None, pattern=r"^https?://")
    kind: Literal["shelly", "tasmota"] = "shelly"  # Shelly Gen1 /relay/<id>, Tasmota /cm
    channel: int = Field(0, ge=0)  # Shelly relay id (0-based) / Tasmota Power<n> (0 = Power)
    topic: str | None = None
    on: str = "ON"
    off: str = "OFF"


class RelaysConfig(_Strict):
    backend: Literal["gpiod", "http", "mqtt"]
    precharge: RelayChannel
    main: RelayChannel
    precharge_s: float = Field(3.0, gt=0)  # precharge alone this long, then main
    overlap_s: float = Field(0.5, ge=0)  # both on this long, then precharge off
    timeout_s: float = Field(2.0, gt=0)  # one write (HTTP request, MQTT publish)

    @model_validator(mode="after")
    def _backend_fields(self) -> RelaysConfig:
        need = {"gpiod": "line", "http": "url", "mqtt": "topic"}[self.backend]
        for name in ("precharge", "main"):
            if getattr(getattr(self, name), need) is None:
                raise ValueError(f"relays.{name}: backend {self.backend} needs '{need}:'")
        return self
