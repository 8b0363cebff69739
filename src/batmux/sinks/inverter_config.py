"""The ``inverters:`` config list: one entry per emulated battery an inverter talks to.

Each inverter protocol has its own entry model, told apart by ``type:`` (a pydantic
discriminated union). This module deliberately imports nothing from ``batmux.config`` so that
``config.py`` can import it without a cycle.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from batmux.modelkit import BaseModel, ConfigDict, Field, field_validator, model_validator
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.soc_window_config import SocWindowConfig

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


class InverterBase(BaseModel):
    """Keys every inverter entry has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, min_length=1, max_length=64)  # default: "<type>_<battery>"
    battery: str = Field(min_length=1, max_length=64)  # a battery or group name
    fallback: Literal["none", "standby", "fault"] = "fault"  # what stale data shows as (300)
    # s without a 401 toggle → "not alive"; a Gen24 toggles every 57-60 s, so 60 would flap
    alive_timeout: float = Field(120.0, gt=0)
    on_inverter_silent: Literal["report", "stop"] = "stop"  # stop: 0 W after alive_timeout
    soc_window: SocWindowConfig | None = None  # real SoC [min, max] % shown as 0-100 %

    @property
    def link_name(self) -> str:
        return self.name or f"{self.type}_{self.battery}"  # type: ignore[attr-defined]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError("use letters, digits, '_' and '-' only (it becomes an MQTT topic)")
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:502`` for IPv6) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError("listen must be HOST:PORT, e.g. 127.0.0.1:5020 or 0.0.0.0:502")
    return host.strip("[]"), int(port)


class BydModbusInverterConfig(InverterBase):
    """A BYD Battery-Box Premium HV for a Fronius Gen24: Modbus RTU (``port``) or TCP
    (``listen``)."""

    type: Literal["byd_modbus"]
    listen: str | None = None  # "HOST:PORT" → Modbus TCP server
    port: str | None = None  # "/dev/ttyUSB0" → Modbus RTU on RS485
    unit_id: int = Field(21, ge=1, le=247)
    baudrate: int = Field(9600, gt=0)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> BydModbusInverterConfig:
        if (self.listen is None) == (self.port is None):
            raise ValueError("give exactly one of 'listen: HOST:PORT' (TCP) or 'port: /dev/...'")
        return self

    @property
    def address(self) -> tuple[str, int] | None:
        return parse_listen(self.listen) if self.listen else None


# Every inverter type is one member of this union, told apart by its ``type:``.
InverterConfig = Annotated[
    Union[BydModbusInverterConfig, BydCanInverterConfig, PylontechCanInverterConfig],  # noqa: UP007
    Field(discriminator="type"),
]
