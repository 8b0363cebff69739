"""VRM device instances from Venus's settings service (``com.victronenergy.settings``).

A driver registers ``/Settings/Devices/<unique id>/ClassAndVrmInstance`` with the default
``"<class>:<preferred instance>"``. The settings service (localsettings) keeps an existing entry
as it is; for a new one it takes the preferred instance if no other device of that class holds
it, otherwise the next free one, and it keeps the entry across restarts. The driver reads the
value back with ``GetValue`` and publishes that number as ``/DeviceInstance``.

Facts from victronenergy/localsettings ``README.md`` (AddSetting, AddSettings, "Vrm Device
Instances") and velib_python ``settingsdevice.py`` (AddSetting on ``/Settings`` with group "",
type ``s``, min = max = 0). ``AddSettings`` is the newer call; ``AddSetting`` is the fallback for
a localsettings that answers it with an error.
"""

from __future__ import annotations

from dbus_fast import Variant
from dbus_fast.aio import MessageBus

from batmux.errors import LinkError
from batmux.links.venus_dbus import DBUS, call, unwrap

SETTINGS_SERVICE = "com.victronenergy.settings"
SETTINGS_IFACE = "com.victronenergy.Settings"  # AddSetting / AddSettings live here
DEVICES_PATH = "/Settings/Devices"
INSTANCE_SETTING = "ClassAndVrmInstance"


def instance_path(unique_id: str) -> str:
    return f"{DEVICES_PATH}/{unique_id}/{INSTANCE_SETTING}"


def format_class_instance(device_class: str, instance: int) -> str:
    return f"{device_class}:{instance}"


def parse_class_instance(value: object) -> tuple[str, int] | None:
    """``"battery:512"`` → ``("battery", 512)``; anything else → None."""
    if not isinstance(value, str):
        return None
    device_class, sep, number = value.rpartition(":")
    if not sep or not device_class or not number.isdigit():
        return None
    return device_class, int(number)


async def settings_present(bus: MessageBus) -> bool:
    (owned,) = await call(
        bus, DBUS, "/org/freedesktop/DBus", "NameHasOwner", DBUS, "s", [SETTINGS_SERVICE]
    )
    return bool(owned)


async def allocate_instance(
    bus: MessageBus, unique_id: str, device_class: str, preferred: int
) -> int:
    """Register the device's ClassAndVrmInstance and return the instance the service chose.

    Raises ``LinkError`` when the service refuses both calls or hands back a value that is not
    ``"<device_class>:<n>"``.
    """
    path = instance_path(unique_id)
    default = format_class_instance(device_class, preferred)
    entry = {"path": Variant("s", path), "default": Variant("s", default)}
    try:
        (results,) = await call(
            bus, SETTINGS_SERVICE, "/", "AddSettings", SETTINGS_IFACE, "aa{sv}", [[entry]]
        )
        error = unwrap(results[0].get("error")) if results else None
    except LinkError:
        # A localsettings from before AddSettings: the per-setting call on /Settings.
        (error,) = await call(
            bus,
            SETTINGS_SERVICE,
            "/Settings",
            "AddSetting",
            SETTINGS_IFACE,
            "ssvsvv",
            [
                f"Devices/{unique_id}",
                INSTANCE_SETTING,
                Variant("s", default),
                "s",
                Variant("i", 0),
                Variant("i", 0),
            ],
        )
    if error != 0:
        raise LinkError(f"{SETTINGS_SERVICE}: adding {path} failed (error {error})")
    (value,) = await call(bus, SETTINGS_SERVICE, path, "GetValue")
    parsed = parse_class_instance(unwrap(value))
    if parsed is None or parsed[0] != device_class:
        raise LinkError(f"{SETTINGS_SERVICE}: {path} is {unwrap(value)!r}, not {device_class}:<n>")
    return parsed[1]
