"""Config of the Venus OS side: ``venus:`` battery services and the ``victron_input:`` section.

Example::

    venus:
      - {battery: bank, device_instance: 100}
      - {battery: pack_a, device_instance: 101, is_bms: false}
    victron_input:
      vebus: true
      solar_chargers: true
      shunts: [{service: ttyS5, role: dc_load}]
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from batmux.modelkit import AfterValidator, BaseModel, ConfigDict, Field, field_validator

SERVICE_PREFIX = "com.victronenergy.battery."
SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
# 0xFFFF is the "generic" id dbus-mqtt-battery uses; it avoids the ids DVCC gives quirks to.
DEFAULT_PRODUCT_ID = 0xFFFF


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenusConfig(_Strict):
    """One ``com.victronenergy.battery.<name>`` service for one battery or group."""

    battery: Annotated[str, Field(min_length=1, max_length=64)]
    name: str | None = None  # service suffix; default: the battery name ('-' → '_')
    # Proposed to Venus's settings service, which may hand back another (see venus.py);
    # used as it is when that service is not on the bus.
    device_instance: int = Field(100, ge=0, le=999)
    product_id: int = Field(DEFAULT_PRODUCT_ID, ge=0, le=0xFFFF)
    product_name: str = "batmux"
    custom_name: str | None = None  # default: the battery name
    serial: str | None = None  # default: "batmux-<battery>"
    is_bms: bool = True  # expose /Info/MaxChargeVoltage & co: DVCC then follows its limits
    disconnect_timeout: float = Field(60.0, gt=0)  # stale for this long → the service goes away
    stale_after: float = Field(30.0, gt=0)  # no snapshot from the hub this long → stale

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not SUFFIX_PATTERN.match(value):
            raise ValueError("use letters, digits and '_' only (it ends a D-Bus service name)")
        return value

    @property
    def suffix(self) -> str:
        return self.name or self.battery.replace("-", "_")

    @property
    def service_name(self) -> str:
        return SERVICE_PREFIX + self.suffix

    @property
    def settings_id(self) -> str:
        """The ``<unique id>`` of ``/Settings/Devices/<unique id>/ClassAndVrmInstance``.

        The driver name, as localsettings advises, then the service suffix: unique among the
        ``venus:`` entries and stable as long as the battery/group (or ``name:``) is.
        """
        return f"batmux_{self.suffix}"


def _check_venus(entries: list[VenusConfig]) -> list[VenusConfig]:
    names = [e.service_name for e in entries]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"D-Bus service {name!r} is configured twice (set 'name:')")
    instances = [e.device_instance for e in entries]
    for inst in instances:
        if instances.count(inst) > 1:
            raise ValueError(f"device_instance {inst} is used twice")
    bms = [e.battery for e in entries if e.is_bms]
    if len(bms) > 1:
        # Venus raises "multiple batteries" when two services expose /Info/MaxChargeVoltage.
        raise ValueError(
            f"only one venus entry may have is_bms: true (now: {', '.join(bms)}); "
            "set is_bms: false on the others"
        )
    return entries


VenusList = Annotated[list[VenusConfig], AfterValidator(_check_venus)]


class ShuntConfig(_Strict):
    """A SmartShunt (or any service with /Dc/0/Current) that adds to or subtracts from I."""

    service: str  # full D-Bus name, or the suffix of com.victronenergy.battery.<suffix>
    role: Literal["battery", "dc_load"] = "battery"  # battery: added; dc_load: subtracted
    invert: bool = False  # flip the shunt's sign first (shunt mounted the other way round)

    @property
    def service_name(self) -> str:
        return self.service if "." in self.service else SERVICE_PREFIX + self.service

    @property
    def sign(self) -> float:
        sign = -1.0 if self.invert else 1.0
        return -sign if self.role == "dc_load" else sign


class VictronInputConfig(_Strict):
    """Battery current measured by Victron gear: VE.Bus + Σ solar chargers ± shunts."""

    vebus: bool = True  # require a VE.Bus service; its /Dc/0/Current is added
    solar_chargers: bool = True  # add every solar charger's /Dc/0/Current (none found → 0)
    shunts: list[ShuntConfig] = Field(default_factory=list)
    min_soc: bool = True  # read the ESS minimum SoC from com.victronenergy.settings
