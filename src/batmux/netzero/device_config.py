"""Config entries of the zero-export devices (`netzero: inverters:` and `chargers:`).

The controller's own keys live in netzero/config.py; these entries are built into device
objects (netzero/ports.py interfaces) by netzero/devices.
"""

from __future__ import annotations

from typing import Literal

from batmux.modelkit import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InverterEntry(_Strict):
    type: Literal["ahoydtu", "opendtu"]
    url: str  # http://host[:port] of the DTU
    name: str | None = None  # default: <type>-<id or serial>
    id: int = Field(0, ge=0)  # AhoyDTU inverter index
    serial: str | None = None  # OpenDTU: the inverter's serial number (required there)
    max_power: float = Field(gt=0)  # W
    power_lut: str | None = None  # file of `percent;watts` lines, relative to the config file
    username: str = "admin"  # OpenDTU's web login for control requests
    password: str | None = None

    @model_validator(mode="after")
    def _serial_for_opendtu(self) -> InverterEntry:
        if self.type == "opendtu" and not self.serial:
            raise ValueError("an 'opendtu' inverter needs 'serial:'")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.type}-{self.serial or self.id}"


class ChargerEntry(_Strict):
    type: Literal["shelly", "vedirect"]
    name: str | None = None
    url: str | None = None  # shelly: http://host
    relay: int = Field(0, ge=0)  # shelly: switch/relay index
    gen: Literal[1, 2] | None = None  # shelly generation; auto-detected when omitted
    power: float = Field(0.0, ge=0)  # W drawn when on (grid charger) or 0 for a solar charger
    battery: str | None = None  # vedirect: the batmux battery (VE.Direct MPPT) to switch
    role: Literal["charger", "heater", "solar"] = "charger"

    @model_validator(mode="after")
    def _needs(self) -> ChargerEntry:
        if self.type == "shelly" and not self.url:
            raise ValueError("a 'shelly' charger needs 'url:'")
        if self.type == "vedirect" and not self.battery:
            raise ValueError("a 'vedirect' charger needs 'battery:' (the VE.Direct MPPT source)")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.type}-{self.battery or self.relay}"
