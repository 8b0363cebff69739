"""``inverters:`` entries for the CAN emulations: ``type: byd_can`` and ``type: pylontech_can``.

Both carry ``type`` as a ``Literal`` so they slot into the discriminated union of
``sinks/inverter_config.py``. Periods and timeouts are configurable (tests shrink them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from batmux.links.can_config import CanBusConfig
from batmux.modelkit import BaseModel, ConfigDict, Field
from batmux.sinks.soc_window_config import SocWindowConfig

Seconds = Annotated[float, Field(gt=0)]
Volts = Annotated[float, Field(gt=0)]
Fallback = Literal["none", "soc_window", "standby"]
Silent = Literal["report", "stop"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CanInverterBase(_Strict):
    name: str | None = None  # default: "<type>_<battery>"
    battery: str = Field(min_length=1)  # a battery or group name
    can: CanBusConfig = Field(default_factory=CanBusConfig)
    log: str | None = None  # candump-format log of everything sent and received
    fallback: Fallback = "none"  # extra measure when the battery is stale (besides 0 A)
    stale_after: Seconds = 30.0  # battery data older than this → 0 A
    charge_voltage: Volts | None = None  # safe CVL before the first good limits arrive
    discharge_voltage: Volts | None = None  # DVL when the limits carry none
    inverter_timeout: Seconds = 60.0  # "inverter missing" after this much silence
    on_inverter_silent: Silent = "stop"  # stop: 0 A while the inverter is silent
    soc_window: SocWindowConfig | None = None  # real SoC [min, max] % shown as 0-100 %

    @property
    def link_name(self) -> str:
        return self.name or f"{self.type}_{self.battery}"  # type: ignore[attr-defined]


class BydCanPeriods(_Strict):
    limits: Seconds = 2.0  # 0x110
    states: Seconds = 10.0  # 0x150
    info: Seconds = 10.0  # 0x1D0
    temps: Seconds = 10.0  # 0x210
    alarm: Seconds = 60.0  # 0x190


class BydIdentityConfig(_Strict):
    firmware: str = Field("3.16", pattern=r"^\d{1,3}\.[0-9A-Fa-f]{1,2}$")  # major.minor(hex)
    model: str = Field("Battery-Box Premium HVS", max_length=28)
    capacity_kwh: float | None = Field(None, gt=0)  # None: from the live sample


class BydCanInverterConfig(_CanInverterBase):
    type: Literal["byd_can"]
    deye_workaround: bool = False  # SoC 100 %/0 % when the charge/discharge limit is 0
    periods: BydCanPeriods = Field(default_factory=BydCanPeriods)
    identity: BydIdentityConfig = Field(default_factory=BydIdentityConfig)


class PylontechCanInverterConfig(_CanInverterBase):
    type: Literal["pylontech_can"]
    variant: Literal["v1.2", "v1.3"] = "v1.2"
    victron_extras: bool = False  # 0x370-0x377: name, module counts, min/max cell
    period: Seconds = 1.0
    inverter_timeout: Seconds = 10.0  # 0x305 comes every second
    manufacturer: str = Field("PYLON", max_length=8)
    bms_name: str = Field("batmux", max_length=16)
    module_count: int | None = Field(None, ge=0, le=255)
