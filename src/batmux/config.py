"""The config file, parsed once into a frozen, typed object.

Unknown keys are errors (a typo must never silently disable something), and every error names
the file, the field path and the reason. Nothing here is read at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from batmux.core.bank_config import (
    ChargeSwitchConfig,
    CoulombConfig,
    GroupConfig,
    LimitsConfig,
    check_bank_references,
    located_error,
)
from batmux.devices.ble_options import BleOptions
from batmux.devices.registry import get_type, known_types
from batmux.devices.serial_bms import SerialOptions, check_wired
from batmux.errors import ConfigError
from batmux.links.can_config import CanBusConfig
from batmux.sinks.inverter_config import InverterConfig
from batmux.sinks.mqtt_json_config import MqttJsonOutputConfig
from batmux.sinks.venus_config import VenusList, VictronInputConfig

DEFAULT_CONFIG = "batmux.yaml"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
MAC_PATTERN = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError("use letters, digits, '_' and '-' only (it becomes an MQTT topic and id)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=64)]
Seconds = Annotated[float, Field(gt=0)]


class TlsConfig(Strict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False  # skip hostname/certificate checks (self-signed brokers)


class MqttConfig(Strict):
    url: str = "mqtt://localhost:1883"
    base_topic: str = "batmux"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    client_id: str | None = None
    tls: TlsConfig | None = None
    keepalive: int = Field(30, ge=5, le=3600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("no host in URL")
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return value

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value or any(c in value for c in "#+") or value.startswith("/"):
            raise ValueError("must be a plain topic without wildcards or a leading '/'")
        return value.rstrip("/")


class LoadConfig(Strict):
    """A simulated load: ``sine`` swings between charge and discharge."""

    kind: Literal["constant", "sine"] = "sine"
    amplitude: float = 20.0
    period: Seconds = 600.0
    offset: float = 0.0


class SimConfig(Strict):
    """Parameters of a simulated device (``address: sim``)."""

    cells: int = Field(16, ge=1, le=32)
    capacity_ah: float = Field(100.0, gt=0)
    soc: float = Field(60.0, ge=0, le=100)
    current: float = 0.0
    load: LoadConfig | None = None
    stop_after: Seconds | None = None
    corrupt_rate: float = Field(0.0, ge=0, le=1)
    firmware: str | None = None  # JK: "10.08" → 24S layout, "11.50" → 32S
    seed: int = 1


class BatteryConfig(Strict):
    name: Name
    type: str
    address: str = "sim"
    adapter: str | None = None
    pin: str | None = None
    keep_alive: bool = True
    current_calibration: float = 1.0
    invert_current: bool = False
    allow_control: bool = False
    debug: bool = False
    timeout: Seconds = 10.0
    sim: SimConfig | None = None
    limits: LimitsConfig | None = None
    coulomb_counter: CoulombConfig | None = None
    charge_switch: ChargeSwitchConfig | None = None
    can: CanBusConfig | None = None  # CAN batteries (pylontech_can, byd_can)
    poll_interval: float | None = Field(None, ge=0)  # nissan_leaf: LBC polls, s (0 = off)
    port: str | None = None  # serial device (vedirect)
    baudrate: int = Field(19200, gt=0)  # serial speed (vedirect)
    topic: str | None = None  # MQTT topic to subscribe (mqtt_json, batmux_remote)
    url: str | None = None  # MQTT broker for ``topic`` (default: the root mqtt url)
    ble: BleOptions | None = None
    serial: SerialOptions | None = None  # jbd/daly on a wired port (address: /dev/… or serial:…)
    # victron_smartshunt: read the encrypted Instant Readout advertisement with this key (hex)
    advertisement_key: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{32}$")

    _name = field_validator("name")(classmethod(lambda cls, v: check_name(v)))

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in known_types():
            raise ValueError(f"unknown type {value!r}; known: {', '.join(known_types())}")
        return value

    @model_validator(mode="after")
    def _sim_only_for_sim(self) -> BatteryConfig:
        if self.sim is not None and self.address != "sim":
            raise ValueError("'sim:' parameters need 'address: sim'")
        return self

    @field_validator("address", "port", "serial")
    @classmethod
    def _wired(cls, value: Any, info: ValidationInfo) -> Any:
        return check_wired(info.field_name, value, info.data)

    @property
    def is_sim(self) -> bool:
        return self.address == "sim"

    @property
    def lacks_required_address(self) -> bool:
        """A type whose missing address does not mean "simulate" (e.g. byd_modbus), without
        an address and without ``sim:``."""
        explicit = "address" in self.model_fields_set or self.sim is not None
        return not explicit and get_type(self.type).address_required


class Config(Strict):
    mqtt: MqttConfig | None = None
    sample_period: Seconds = 1.0
    publish_period: Seconds = 5.0
    expire_after: Seconds = 60.0
    state_dir: str = "state"
    concurrent_sampling: bool = True
    watchdog: bool = False
    watchdog_rounds: int = Field(30, ge=1)
    batteries: list[BatteryConfig] = Field(default_factory=list)
    venus: VenusList = Field(default_factory=list)
    victron_input: VictronInputConfig | None = None
    groups: list[GroupConfig] = Field(default_factory=list)
    inverters: list[InverterConfig] = Field(default_factory=list)
    mqtt_json_output: list[MqttJsonOutputConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        _reject_duplicates("batteries", "battery", [b.name for b in self.batteries])
        return self

    @model_validator(mode="after")
    def _addresses(self) -> Config:
        for i, battery in enumerate(self.batteries):
            if battery.lacks_required_address:
                raise located_error(
                    ("batteries", i, "address"),
                    f"type {battery.type} needs 'address: HOST:PORT' or a serial port "
                    "('address: sim' simulates it)",
                    None,
                )
        return self

    @model_validator(mode="after")
    def _bank_references(self) -> Config:
        check_bank_references(self.batteries, self.groups)
        return self

    @model_validator(mode="after")
    def _output_references(self) -> Config:
        """Every output that names a battery (inverters, venus, mqtt_json_output) names a
        configured battery or group."""
        known = {b.name for b in self.batteries} | {g.name for g in self.groups}
        outputs = [
            *(
                (("inverters", i, "battery"), f"inverter {o.link_name!r}", o.battery)
                for i, o in enumerate(self.inverters)
            ),
            *(
                (("venus", i, "battery"), f"venus entry for {o.battery!r}", o.battery)
                for i, o in enumerate(self.venus)
            ),
            *(
                (("mqtt_json_output", i, "battery"), f"mqtt_json_output {o.topic!r}", o.battery)
                for i, o in enumerate(self.mqtt_json_output)
            ),
        ]
        for loc, what, battery in outputs:
            if battery not in known:
                raise located_error(
                    loc,
                    f"{what}: battery {battery!r} is not a configured battery or group "
                    f"(known: {', '.join(sorted(known)) or 'none'})",
                    battery,
                )
        _reject_duplicates("inverters", "inverter", [i.link_name for i in self.inverters])
        return self

    def battery(self, name: str) -> BatteryConfig:
        for battery in self.batteries:
            if battery.name == name:
                return battery
        raise KeyError(name)


def _reject_duplicates(section: str, what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise located_error((section, i, "name"), f"{what} name {name!r} is used twice", name)
        seen.add(name)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_config(data: Any, file: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, "", "the top level must be a mapping of keys")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (typo?)"
            lines.append((_path(err["loc"]), msg))
        first_field, first_msg = lines[0]
        extra = "".join(f"\n{file}: {f}: {m}" for f, m in lines[1:])
        raise ConfigError(file, first_field, first_msg + extra) from None


def load_config(path: str | Path) -> Config:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise ConfigError(file, where, str(getattr(exc, "problem", exc))) from None
    return parse_config(data, file)
