"""The `netzero:` section: target, modes, consumption sources, devices and guards.

Keys follow the issue's contract (docs/netzero.md). Device entries are the lead's
`device_config` models; this module adds the controller's own keys and the guards, with the
field's supervisor defaults (homebattery config.json).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from batmux.modelkit import BaseModel, ConfigDict, Field, model_validator
from batmux.netzero.device_config import ChargerEntry, InverterEntry

Mode = Literal["charge", "discharge", "idle", "protect"]
MODES: tuple[str, ...] = get_args(Mode)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttMeter(_Strict):
    topic: str = Field(min_length=1)
    format: Literal["number", "int16", "int32", "json"] = "number"
    path: str | None = None  # json: dotted path to the value ("emeters.0.power")
    factor: float = 1.0
    signed: bool = True  # False: the meter cannot show export (its 0 W may mean "exporting")

    @model_validator(mode="after")
    def _path_for_json(self) -> MqttMeter:
        if self.format == "json" and not self.path:
            raise ValueError("format 'json' needs 'path:' (dotted, e.g. 'total_power')")
        if any(c in self.topic for c in "#+"):
            raise ValueError("the meter topic must not contain wildcards")
        return self


class HttpMeter(_Strict):
    url: str = Field(pattern=r"^https?://")
    path: str = Field(min_length=1)
    factor: float = 1.0
    interval: float = Field(2.0, gt=0, le=300)  # s between polls
    timeout: float = Field(2.0, gt=0, le=60)
    signed: bool = True


class ConsumptionEntry(_Strict):
    """One meter: exactly one of `mqtt:` or `http:`."""

    mqtt: MqttMeter | None = None
    http: HttpMeter | None = None

    @model_validator(mode="after")
    def _one(self) -> ConsumptionEntry:
        if (self.mqtt is None) == (self.http is None):
            raise ValueError("give exactly one of 'mqtt:' or 'http:'")
        return self


class GuardsConfig(_Strict):
    """Supervisor locks; defaults are the field's (homebattery supervisor, docs/netzero.md)."""

    battery_offline: float = Field(120.0, gt=0)  # s without fresh battery data → lock all
    cell_low: float = Field(3.1, gt=0)  # V: any cell below locks the inverter
    cell_low_hysteresis: float = Field(0.1, ge=0)
    cell_high: float = Field(3.65, gt=0)  # V: any cell above locks charger and solar
    cell_high_hysteresis: float = Field(0.2, ge=0)
    charge_temp_low: float = 5.0  # °C window for charging
    charge_temp_high: float = 40.0
    discharge_temp_low: float = 0.0  # °C window for discharging
    discharge_temp_high: float = 40.0
    temp_hysteresis: float = Field(2.0, ge=0)
    live_data_lost_charge: float = Field(300.0, gt=0)  # s without a meter value → lock charger
    live_data_lost_discharge: float = Field(60.0, gt=0)  # s → lock inverter
    mqtt_offline: float = Field(60.0, gt=0)  # s without the MQTT broker → lock all

    @model_validator(mode="after")
    def _windows(self) -> GuardsConfig:
        if self.cell_low >= self.cell_high:
            raise ValueError("cell_low must be below cell_high")
        if self.charge_temp_low >= self.charge_temp_high:
            raise ValueError("charge_temp_low must be below charge_temp_high")
        if self.discharge_temp_low >= self.discharge_temp_high:
            raise ValueError("discharge_temp_low must be below discharge_temp_high")
        return self


class NetzeroConfig(_Strict):
    battery: str = Field(min_length=1)  # a configured battery or group
    target_w: float = Field(10.0, ge=-5000, le=5000)  # wanted grid power, + = import
    hysteresis_w: float = Field(20.0, ge=0, le=2000)
    mode: Mode = "discharge"
    consumption: list[ConsumptionEntry] = Field(min_length=1)
    inverters: list[InverterEntry] = Field(default_factory=list)
    chargers: list[ChargerEntry] = Field(default_factory=list)
    guards: GuardsConfig = GuardsConfig()
    period: float = Field(1.0, gt=0, le=10)  # s between controller ticks (guards, commands)

    @model_validator(mode="after")
    def _names(self) -> NetzeroConfig:
        names = [i.label for i in self.inverters] + [c.label for c in self.chargers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"device name {name!r} is used twice (give 'name:')")
        return self


def check_references(config: Any) -> None:
    """`battery:` names a configured battery or group; MQTT meters need `mqtt:`; a VE.Direct
    charger names a configured battery."""
    from batmux.core.bank_config import located_error

    nz = config.netzero
    known = {b.name for b in config.batteries} | {g.name for g in config.groups}
    if nz.battery not in known:
        raise located_error(
            ("netzero", "battery"),
            f"battery {nz.battery!r} is not a configured battery or group "
            f"(known: {', '.join(sorted(known)) or 'none'})",
            nz.battery,
        )
    for i, entry in enumerate(nz.consumption):
        if entry.mqtt is not None and config.mqtt is None:
            raise located_error(
                ("netzero", "consumption", i, "mqtt"),
                "an MQTT meter needs the 'mqtt:' section (the broker to subscribe on)",
                None,
            )
    batteries = {b.name for b in config.batteries}
    for i, charger in enumerate(nz.chargers):
        if charger.type == "vedirect" and charger.battery not in batteries:
            raise located_error(
                ("netzero", "chargers", i, "battery"),
                f"battery {charger.battery!r} is not a configured battery",
                charger.battery,
            )
