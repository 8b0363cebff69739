"""The config file, parsed once into a frozen, typed object.

Unknown keys are errors (a typo must never silently disable something), and every error names
the file, the field path and the reason. Nothing here is read at import time.

Whatever the file holds, reading it ends in a ``Config`` or a ``ConfigError``, in time linear
in its size: not-UTF-8 text, duplicate keys, NaN/infinity, integers too large for a float,
control characters in text and nesting deeper than ``MAX_DEPTH`` are errors here, so
``check-config`` fails on everything ``run`` would fail or crash on later.

The models take their base class from ``batmux.modelkit``: pydantic's, except in the
long-running ``batmux run`` process, which gets the tree validated here by a short-lived
child process (``batmux.config_child``) and rebuilds it from light stand-ins.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from batmux.core.bank_config import (
    ChargeSwitchConfig,
    CoulombConfig,
    GroupConfig,
    LimitsConfig,
    check_bank_references,
    located_error,
)
from batmux.core.contactor_config import ContactorsConfig, check_inverter_watch
from batmux.core.relay_config import RelaysConfig
from batmux.devices.batrium_options import BatriumOptions
from batmux.devices.ble_options import BleOptions
from batmux.devices.junctek_options import JunctekOptions
from batmux.devices.registry import get_type, known_types
from batmux.devices.serial_bms import SerialOptions, check_wired
from batmux.errors import ConfigError
from batmux.links.can_config import CanBusConfig
from batmux.modelkit import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from batmux.netzero.config import NetzeroConfig
from batmux.sinks.inverter_config import InverterConfig
from batmux.sinks.mqtt_json_config import MqttJsonOutputConfig
from batmux.sinks.observe_config import HistoryConfig, InfluxConfig, WebConfig
from batmux.sinks.venus_config import VenusList, VictronInputConfig

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")  # fullmatch: "a\n" is not a name
MAC_PATTERN = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\Z")
MAX_DEPTH = 24  # the deepest real config is ~6 levels; PyYAML and pydantic recurse per level
MAX_NODES = 200_000  # values after expanding YAML aliases (a "billion laughs" file stops here)
MAX_INT = 2**53  # beyond this an integer is not a float any more, nor any real setting
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError("use letters, digits, '_' and '-' only (it becomes an MQTT topic and id)")
    return value


def check_mqtt_url(value: str) -> str:
    """An ``mqtt[s]://[user:password@]host[:port]`` URL (errors never repeat the URL: it may
    hold a password)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL (mqtt://host:port or mqtts://…)") from None
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError("scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("no host in URL")
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
    # fleet (docs/fleet.md): this gateway's name; its topics default to batmux/<gateway> and
    # its HA unique_ids and devices carry it, so gateways on one broker never collide
    gateway: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    _url = field_validator("url")(classmethod(lambda cls, v: check_mqtt_url(v)))

    @model_validator(mode="before")
    @classmethod
    def _gateway_base(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("gateway") and "base_topic" not in data:
            return {**data, "base_topic": f"batmux/{data['gateway']}"}
        return data

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value or any(c in value for c in "#+") or value.startswith("/"):
            raise ValueError("must be a plain topic without wildcards or a leading '/'")
        return value.rstrip("/")


# Simulated packs stay within what every family's frames can carry (JBD: 655.35 Ah, ±327 A):
# 1e308 Ah or A overflowed a simulator's encoder and ended the whole run.
SIM_MAX_A = 300.0
SIM_MAX_AH = 650.0


class LoadConfig(Strict):
    """A simulated load: ``sine`` swings between charge and discharge."""

    kind: Literal["constant", "sine"] = "sine"
    amplitude: float = Field(20.0, ge=-SIM_MAX_A, le=SIM_MAX_A)
    period: Seconds = 600.0
    offset: float = Field(0.0, ge=-SIM_MAX_A, le=SIM_MAX_A)

    @model_validator(mode="after")
    def _peak(self) -> LoadConfig:
        if abs(self.amplitude) + abs(self.offset) > SIM_MAX_A:
            raise ValueError(f"|amplitude| + |offset| must be at most {SIM_MAX_A:g} A")
        return self


class SimConfig(Strict):
    """Parameters of a simulated device (``address: sim``)."""

    cells: int = Field(16, ge=1, le=128)  # EV packs: 96 (Tesla NCA, LEAF) to 108 bricks
    capacity_ah: float = Field(100.0, ge=0.1, le=SIM_MAX_AH)
    soc: float = Field(60.0, ge=0, le=100)
    current: float = Field(0.0, ge=-SIM_MAX_A, le=SIM_MAX_A)
    load: LoadConfig | None = None
    stop_after: Seconds | None = None
    corrupt_rate: float = Field(0.0, ge=0, le=1)
    firmware: str | None = None  # JK: "10.08" → 24S layout, "11.50" → 32S
    seed: int = 1


class BluetoothProxyConfig(Strict):
    """One ESPHome Bluetooth proxy (docs/esphome-proxies.md)."""

    name: Name
    host: str = Field(min_length=1)
    port: int = Field(6053, gt=0, lt=65536)
    encryption_key: str | None = None  # the device's ``api: encryption: key:`` (base64)
    password: str | None = None  # legacy unencrypted devices with ``api: password:``

    @field_validator("encryption_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        import base64
        import binascii

        if value is not None:
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError("encryption_key must be the device's base64 32-byte key")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> BluetoothProxyConfig:
        if self.encryption_key is not None and self.password is not None:
            raise ValueError("give encryption_key or password, not both")
        return self


class BatteryConfig(Strict):
    name: Name
    type: str
    address: str = "sim"
    adapter: str | None = None  # hciN (local) | proxy:<name> | auto
    pin: str | None = None
    keep_alive: bool = True
    current_calibration: float = 1.0
    invert_current: bool = False
    allow_control: bool = False
    allow_inject: bool = False  # commissioning: <base>/<name>/inject/set (core/inject.py)
    debug: bool = False
    timeout: Seconds = 10.0
    sim: SimConfig | None = None
    limits: LimitsConfig | None = None
    coulomb_counter: CoulombConfig | None = None
    charge_switch: ChargeSwitchConfig | None = None
    contactors: ContactorsConfig | None = None  # EV packs: contactor control (allow_control)
    relays: RelaysConfig | None = None  # external precharge/main relays (needs contactors:)
    can: CanBusConfig | None = None  # CAN batteries (pylontech_can, byd_can)
    poll_interval: float | None = Field(None, ge=0)  # nissan_leaf: LBC polls, s (0 = off)
    batrium: BatriumOptions | None = None  # type: batrium (base_id)
    junctek: JunctekOptions | None = None  # type: junctek (RS485 address, SoC fallback)
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
        if self.contactors is not None and not self.allow_control:
            raise ValueError("'contactors:' needs 'allow_control: true'")
        if self.relays is not None and self.contactors is None:
            raise ValueError("'relays:' needs a 'contactors:' section (and allow_control)")
        return self

    @field_validator("address", "port", "serial")
    @classmethod
    def _wired(cls, value: Any, info: ValidationInfo) -> Any:
        return check_wired(info.field_name, value, info.data)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_mqtt_url(value)

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
    allow_inject: bool = False  # fault injection on every battery (else per battery)
    batteries: list[BatteryConfig] = Field(default_factory=list)
    bluetooth_proxies: list[BluetoothProxyConfig] = Field(default_factory=list)
    venus: VenusList = Field(default_factory=list)
    victron_input: VictronInputConfig | None = None
    groups: list[GroupConfig] = Field(default_factory=list)
    inverters: list[InverterConfig] = Field(default_factory=list)
    mqtt_json_output: list[MqttJsonOutputConfig] = Field(default_factory=list)
    web: WebConfig | None = None  # ``web: {}`` serves the API and /metrics on 127.0.0.1:8080
    history: HistoryConfig = HistoryConfig()  # on by default; ``enabled: false`` turns it off
    influxdb: InfluxConfig | None = None
    netzero: NetzeroConfig | None = None  # zero export (docs/netzero.md)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        _reject_duplicates("batteries", "battery", [b.name for b in self.batteries])
        _reject_duplicates("bluetooth_proxies", "proxy", [p.name for p in self.bluetooth_proxies])
        return self

    @model_validator(mode="after")
    def _addresses(self) -> Config:
        for i, battery in enumerate(self.batteries):
            # what the type's source needs (topic for MQTT, port for VE.Direct) unless simulated
            device_type = get_type(battery.type)
            simulated = device_type.sim is not None and battery.address.startswith("sim")
            for key in () if simulated else device_type.requires:
                if not getattr(battery, key):
                    hint = " (or 'address: sim')" if device_type.sim else ""
                    message = f"type {battery.type} needs '{key}:'{hint}"
                    raise located_error(("batteries", i, key), message, None)
            if device_type.transport == "modbus" and not simulated and not battery.is_sim:
                reason = _modbus_address_error(battery.address)
                if reason:
                    raise located_error(("batteries", i, "address"), reason, None)
            if battery.sim is not None and battery.sim.cells > device_type.sim_max_cells:
                raise located_error(
                    ("batteries", i, "sim", "cells"),
                    f"type {battery.type} carries at most {device_type.sim_max_cells} cells",
                    None,
                )
            if battery.lacks_required_address:
                raise located_error(
                    ("batteries", i, "address"),
                    f"type {battery.type} needs 'address: HOST:PORT' or a serial port "
                    "('address: sim' simulates it)",
                    None,
                )
        return self

    @model_validator(mode="after")
    def _proxy_references(self) -> Config:
        """``adapter: proxy:<name>`` names a configured proxy; ``auto`` needs BLE."""
        known = [p.name for p in self.bluetooth_proxies]
        for i, battery in enumerate(self.batteries):
            adapter = battery.adapter or ""
            proxy = adapter.removeprefix("proxy:") if adapter.startswith("proxy:") else None
            if proxy is None and adapter != "auto":
                continue
            if proxy is not None and proxy not in known:
                reason = (
                    f"no bluetooth_proxies entry named {proxy!r} "
                    f"(known: {', '.join(known) or 'none'})"
                )
            elif (
                proxy is not None
                and battery.type == "victron_smartshunt"
                and not battery.advertisement_key
            ):
                reason = (
                    "the SmartShunt's GATT mode needs a bond, which batmux cannot make through "
                    "a proxy; use its Instant Readout (advertisement_key:)"
                )
            elif get_type(battery.type).transport != "ble" or battery.is_sim:
                reason = f"'adapter: {adapter}' needs a BLE battery with a real address"
            else:
                continue
            raise located_error(("batteries", i, "adapter"), reason, adapter)
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
        check_inverter_watch(self.batteries, self.inverters, self.groups)
        return self

    @model_validator(mode="after")
    def _relay_backends(self) -> Config:
        for i, battery in enumerate(self.batteries):
            if self.mqtt is None and battery.relays and battery.relays.backend == "mqtt":
                raise located_error(
                    ("batteries", i, "relays", "backend"),
                    "relays backend mqtt needs the top-level mqtt: section",
                    "mqtt",
                )
        return self

    @model_validator(mode="after")
    def _netzero_references(self) -> Config:
        if self.netzero is not None:
            from batmux.netzero.config import check_references

            check_references(self)
        return self

    def battery(self, name: str) -> BatteryConfig:
        for battery in self.batteries:
            if battery.name == name:
                return battery
        raise KeyError(name)


def _modbus_address_error(address: str) -> str | None:
    """Why ``address`` is neither a serial port nor ``HOST:PORT`` for a Modbus link, or None."""
    from batmux.links.modbus import is_serial  # only configs with a Modbus battery import it

    if is_serial(address):
        return None
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and 0 < int(port) < 65536:
        return None
    return "a Modbus battery needs 'address: HOST:PORT' or a serial port (/dev/…)"


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


def check_values(data: Any, file: str = "<config>") -> None:
    """Reject what no setting can be, before pydantic sees it (linear, never recursive):
    NaN/infinity, integers beyond ``MAX_INT``, control characters in text, more than
    ``MAX_DEPTH`` levels or ``MAX_NODES`` values."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    nodes = 0
    while stack:
        loc, value = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(file, _path(loc), f"more than {MAX_NODES} values (YAML aliases?)")
        if len(loc) > MAX_DEPTH:
            raise ConfigError(file, _path(loc[:MAX_DEPTH]), "nested too deeply")
        reason = _bad_scalar(value)
        if reason:
            raise ConfigError(file, _path(loc), reason)
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                key_reason = _bad_scalar(key)
                if key_reason:
                    raise ConfigError(file, _path(loc), f"key: {key_reason}")
                stack.append(((*loc, str(key)), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in reversed(list(enumerate(value))))


def _bad_scalar(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "must be finite (not .nan or .inf)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return "number too large"
    if isinstance(value, str) and CONTROL_CHARS.search(value):
        return "control character (newline, tab, NUL…) in text"
    if isinstance(value, bytes | set | tuple):  # !!binary, !!set… are no setting's type
        return f"unexpected YAML type {type(value).__name__}"
    return None


def parse_config(data: Any, file: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, "", "the top level must be a mapping of keys")
    check_values(data, file)
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
    return parse_config(read_config_data(path), str(path))


def read_config_data(path: str | Path) -> Any:
    """The YAML file's data, read strictly (duplicate keys, depth, encoding are located errors)."""
    from batmux.config_yaml import read_config_data as read  # PyYAML only where a file is read

    return read(path)
