"""Is BlueZ there? One clear error when it is not, and bleak kept in step when it restarts.

``explain()`` turns what bleak and dbus-fast raise when the host's Bluetooth stack is missing
(no system D-Bus socket, nobody listening on it, no ``org.bluez`` on the bus, no such adapter,
permission denied) into ``BluetoothUnavailable`` with a message that says what to do.

``check_bluez()`` runs before every connect. bleak caches BlueZ's objects for the life of its
bus connection and does not watch ``org.bluez`` itself: after a restart of bluetoothd (same
dbus-daemon) it still believes in the old device and GATT objects, so every reconnect "succeeds"
and then fails with ``UnknownObject`` for good. We remember who owned ``org.bluez`` and, when
the owner changed, make bleak drop its bus connection and read BlueZ afresh (which also tells
every link on it that its connection is gone: a restarted bluetoothd has dropped them all).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakError
from dbus_fast import Message, MessageType
from dbus_fast.errors import AuthError, DBusError

from batmux.errors import LinkError
from batmux.links.ble import BluetoothUnavailable

DEFAULT_SOCKET = "/run/dbus/system_bus_socket"
BLUEZ = "org.bluez"
NO_BLUEZ = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)
DENIED = ("org.freedesktop.DBus.Error.AccessDenied",)  # the bus policy, not a device
# Errors of everything that talks to the system bus (bleak, bleak-retry-connector, dbus-fast).
BUS_ERRORS = (BleakError, OSError, EOFError, DBusError, AuthError)


def system_bus_socket() -> str:
    """The socket path of the system bus (``DBUS_SYSTEM_BUS_ADDRESS`` or the default)."""
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "")
    for part in address.split(";")[0].split(","):
        for key in ("unix:path=", "path="):
            if part.startswith(key):
                return part[len(key) :]
    return address or DEFAULT_SOCKET


def _unavailable(cause: str, message: str) -> BluetoothUnavailable:
    return BluetoothUnavailable(cause, message)


def _no_bluetoothd() -> BluetoothUnavailable:
    return _unavailable(
        "no-bluetoothd",
        "bluetoothd is not running (no org.bluez on the system D-Bus): start it "
        "(`systemctl start bluetooth`); in a container, mount the host's /run/dbus",
    )


def _denied(detail: object) -> BluetoothUnavailable:
    return _unavailable(
        "denied",
        f"permission denied on the system D-Bus ({detail}): run batmux as root or as a user the "
        "D-Bus policy lets talk to org.bluez (usually the `bluetooth` group)",
    )


def explain(exc: BaseException, adapter: str | None = None) -> BluetoothUnavailable | None:
    """``BluetoothUnavailable`` when ``exc`` means the host's Bluetooth stack is not reachable;
    None when it is about one device (not found, refused, timed out)."""
    if isinstance(exc, BluetoothUnavailable):
        return exc
    if isinstance(exc, TimeoutError):
        return None
    socket = system_bus_socket()
    if isinstance(exc, (PermissionError, AuthError)):
        return _denied(exc)
    if isinstance(exc, FileNotFoundError):
        return _unavailable(
            "no-dbus-socket",
            f"the system D-Bus socket {socket} does not exist: D-Bus is not running, or in a "
            "container mount the host's /run/dbus (e.g. `-v /run/dbus:/run/dbus:ro`)",
        )
    if isinstance(exc, ConnectionRefusedError):
        return _unavailable(
            "no-dbus-daemon",
            f"nothing listens on the system D-Bus socket {socket}: dbus-daemon is not running "
            "(`systemctl start dbus`), or the mounted /run/dbus is stale",
        )
    if isinstance(exc, (OSError, EOFError)):
        return _unavailable(
            "dbus-lost", f"the system D-Bus connection failed ({exc!r}): is dbus-daemon running?"
        )
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return _explain_not_available(exc, adapter)
    name = getattr(exc, "dbus_error", None) or getattr(exc, "type", None)
    if name in NO_BLUEZ:
        return _no_bluetoothd()
    if name in DENIED:
        return _denied(name)
    text = str(exc)
    if "adapter '" in text and "not found" in text:
        missing = text.split("adapter '", 1)[1].split("'", 1)[0]
        return _unavailable(
            f"no-adapter-{missing}",
            f"Bluetooth adapter {missing} is not present: check `adapter:` in the config "
            "against `bluetoothctl list` (and that the dongle is plugged in)",
        )
    return None


def _explain_not_available(
    exc: BleakBluetoothNotAvailableError, adapter: str | None
) -> BluetoothUnavailable:
    reason = exc.reason
    if reason in (
        BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
        BleakBluetoothNotAvailableReason.DENIED_BY_USER,
    ):
        return _denied(exc.args[0])
    if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
        where = adapter or "the adapter"
        return _unavailable(
            "powered-off", f"{where} is powered off: `bluetoothctl power on` (or check rfkill)"
        )
    return _unavailable(
        "no-adapter",
        f"no usable Bluetooth adapter ({exc.args[0]}): plug one in, check `bluetoothctl list`; "
        "in a container, pass the host's /run/dbus and run bluetoothd on the host",
    )


def translate(exc: BaseException, what: str, adapter: str | None = None) -> LinkError:
    """The batmux error for a failed bus call: ``BluetoothUnavailable`` or ``LinkError``."""
    return explain(exc, adapter) or LinkError(f"{what}: {exc}")


# bleak's BlueZ manager (one per event loop) → the org.bluez owner it has read its state from.
_owners: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


async def check_bluez(adapter: str | None = None) -> None:
    """Raise ``BluetoothUnavailable`` unless the system bus and bluetoothd are reachable; make
    bleak re-read BlueZ if bluetoothd restarted since it last did."""
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager

    try:
        manager = await get_global_bluez_manager()
        owner = await _bluez_owner(manager)
        known = _owners.get(manager)
        _owners[manager] = owner
        if known is not None and known != owner:
            bus = getattr(manager, "_bus", None)  # bleak has no public "forget the cache"
            if bus is not None:
                bus.disconnect()
            await get_global_bluez_manager()  # reconnects and reads every object again
            _owners[manager] = await _bluez_owner(manager)
    except BUS_ERRORS as exc:
        raise translate(exc, "BlueZ", adapter) from exc


async def _bluez_owner(manager: Any) -> str:
    """The unique bus name that owns ``org.bluez`` now (bluetoothd's connection)."""
    bus = getattr(manager, "_bus", None)
    if bus is None:
        return ""  # a bleak without the attribute: no restart detection, nothing worse
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="GetNameOwner",
            signature="s",
            body=[BLUEZ],
        )
    )
    if reply is None:
        raise EOFError("no reply from the bus")
    if reply.message_type == MessageType.ERROR:
        if reply.error_name in NO_BLUEZ:
            raise _no_bluetoothd()
        raise DBusError(reply.error_name or "unknown", str(reply.body))
    return str(reply.body[0])
