"""BLE BMS families on a wired port: the ``serial:`` section, per-family defaults, the link.

A ``jbd`` or ``daly`` battery whose ``address`` is a serial port (``/dev/…`` or ``serial:…``,
see ``links/serial_bms.py``) runs its BLE driver over ``SerialBmsLink``. What differs on the
wire is chosen here, by transport, not by a separate family: the line settings, and Daly's
host byte (0x40 on UART/RS485, 0x80 on Bluetooth). See docs/wired-bms.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from batmux.devices.registry import DEVICE_TYPES
from batmux.links.serial_bms import SERIAL_PREFIX, is_serial_address, serial_port
from batmux.modelkit import BaseModel, ConfigDict, Field


class SerialOptions(BaseModel):
    """The optional ``serial:`` section of a wired battery; unset keys use the family default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int | None = Field(None, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 1.5, 2] = 1


@dataclass(frozen=True, slots=True)
class WiredFamily:
    """What a family needs on a wire: its usual line speed and driver options."""

    baudrate: int
    driver_kwargs: dict[str, Any] = field(default_factory=dict)


# Daly: 0x40 first (RS485, and what dbus-serialbattery sends on UART), 0x80 if that stays
# silent (python-daly-bms uses 0x80 on UART); the driver keeps whichever answered. The host
# bytes are protocols.daly's HOST_ALT and HOST_BLE, spelled out so that a config without Daly
# never imports the Daly codec (tests/test_imports.py checks both).
WIRED_FAMILIES: dict[str, WiredFamily] = {
    "jbd": WiredFamily(baudrate=9600),
    "daly": WiredFamily(baudrate=9600, driver_kwargs={"hosts": (0x40, 0x80)}),
}


def check_wired(field_name: str | None, value: Any, earlier: dict[str, Any]) -> Any:
    """Config rule, run on ``address``, ``port`` and ``serial``: a Bluetooth family with a
    serial address must be a wired one, ``serial:`` needs a wired family and a serial address,
    and a wired family takes its port in ``address`` (``port:`` is VE.Direct's key). Other
    transports give ``address`` their own meaning (Modbus RTU, VE.Direct) and are left alone.
    ``earlier`` holds the fields validated so far."""
    type_ = earlier.get("type")
    wired = ", ".join(sorted(WIRED_FAMILIES))
    if field_name == "port" and value is not None and type_ in WIRED_FAMILIES:
        raise ValueError(f"a wired {type_} battery takes its port in 'address: {value}'")
    if field_name == "address" and is_serial_address(value) and _is_ble(type_):
        if type_ not in WIRED_FAMILIES:
            raise ValueError(
                f"{value!r} is a serial port, but type {type_!r} does not run on a wire "
                f"(wired types: {wired})"
            )
        if not serial_port(value):
            raise ValueError(f"no port after {SERIAL_PREFIX!r}")
    if field_name == "serial" and value is not None and type_ is not None:
        address = earlier.get("address")
        if type_ not in WIRED_FAMILIES:
            raise ValueError(f"'serial:' is for wired batteries (types: {wired})")
        if address is not None and not is_serial_address(address):
            raise ValueError(
                f"'serial:' needs a serial port address ('/dev/…' or 'serial:…'), not {address!r}"
            )
    return value


def _is_ble(type_: str | None) -> bool:
    return type_ in DEVICE_TYPES and DEVICE_TYPES[type_].transport == "ble"


def wired_link(type_: str, address: str, serial: SerialOptions | None) -> Any:
    """The ``SerialBmsLink`` for a wired battery (pyserial is imported only here)."""
    from batmux.links.serial_bms import SerialBmsLink
    from batmux.links.serial_link import SerialLink

    options = serial or SerialOptions()
    port = SerialLink(
        serial_port(address),
        options.baudrate or WIRED_FAMILIES[type_].baudrate,
        bytesize=options.bytesize,
        parity=options.parity,
        stopbits=options.stopbits,
    )
    return SerialBmsLink(port, address=address)


def wired_driver_kwargs(type_: str) -> dict[str, Any]:
    return dict(WIRED_FAMILIES[type_].driver_kwargs)
