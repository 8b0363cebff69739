"""Zero-export device drivers: config entry → ``Inverter`` / ``Switch`` (netzero/ports.py).

``ahoydtu`` and ``opendtu`` inverters (HTTP through a DTU), ``shelly`` relays and ``vedirect``
MPPT charging. See docs/netzero-devices.md for the exact requests and the timing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from batmux.errors import ConfigError
from batmux.netzero.device_config import ChargerEntry, InverterEntry
from batmux.netzero.devices.ahoydtu import AhoyDtuTransport
from batmux.netzero.devices.dtu import DtuInverter, DtuTiming, DtuTransport
from batmux.netzero.devices.opendtu import OpenDtuTransport
from batmux.netzero.devices.shelly import ShellySwitch
from batmux.netzero.devices.vedirect import ChargeWriter, VeDirectChargeSwitch
from batmux.netzero.lut import PowerLut, load_lut
from batmux.netzero.ports import Clock, Inverter, Switch

__all__ = [
    "DtuInverter",
    "DtuTiming",
    "ShellySwitch",
    "VeDirectChargeSwitch",
    "build_charger",
    "build_inverter",
    "load_entry_lut",
]


def load_entry_lut(entry: InverterEntry, config_dir: Path) -> PowerLut | None:
    """The entry's LUT (path relative to the config file); a bad line is a ``LutError``."""
    if entry.power_lut is None:
        return None
    path = Path(entry.power_lut)
    return load_lut(path if path.is_absolute() else config_dir / path)


def build_inverter(
    entry: InverterEntry,
    *,
    config_dir: Path,
    clock: Clock,
    session: aiohttp.ClientSession,
    timing: DtuTiming | None = None,
    timeout_s: float = 5.0,
) -> Inverter:
    transport: DtuTransport
    if entry.type == "ahoydtu":
        transport = AhoyDtuTransport(session, entry.url, entry.id, timeout_s, entry.password)
    else:
        assert entry.serial is not None  # the entry's validator requires it
        transport = OpenDtuTransport(
            session,
            entry.url,
            entry.serial,
            username=entry.username,
            password=entry.password,
            timeout_s=timeout_s,
        )
    return DtuInverter(
        entry.label,
        transport,
        max_power_w=entry.max_power,
        clock=clock,
        lut=load_entry_lut(entry, config_dir),
        timing=timing,
    )


def build_charger(
    entry: ChargerEntry,
    *,
    clock: Clock,
    session: aiohttp.ClientSession,
    vedirect_switch: Callable[[str], object] | None = None,
    timeout_s: float = 5.0,
) -> Switch:
    if entry.type == "shelly":
        assert entry.url is not None  # the entry's validator requires it
        return ShellySwitch(
            entry.label,
            session,
            entry.url,
            relay=entry.relay,
            gen=entry.gen,
            power_w=entry.power,
            clock=clock,
            timeout_s=timeout_s,
        )
    assert entry.battery is not None
    try:
        writer = vedirect_switch(entry.battery) if vedirect_switch is not None else None
    except LookupError:
        writer = None
    if writer is None or not callable(getattr(writer, "set_switch", None)):
        raise ConfigError(
            "<config>",
            f"netzero.chargers.{entry.label}.battery",
            f"'{entry.battery}' is not a configured VE.Direct source that can switch charging",
        )
    return VeDirectChargeSwitch(entry.label, _as_writer(writer), clock=clock, power_w=entry.power)


def _as_writer(writer: object) -> ChargeWriter:
    return writer  # type: ignore[return-value]  # checked for set_switch above
