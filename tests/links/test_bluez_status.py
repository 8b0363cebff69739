"""What each way of BlueZ being unreachable is called, and what the line tells the user to do
(the errors are the ones bleak and dbus-fast raise; see test_bluez_absent.py for the real
thing on a private bus)."""

from __future__ import annotations

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)
from dbus_fast.errors import AuthError

from batmux.links.bluez_status import explain, system_bus_socket


@pytest.mark.parametrize(
    ("error", "cause", "advice"),
    [
        (FileNotFoundError(2, "No such file"), "no-dbus-socket", "mount the host's /run/dbus"),
        (ConnectionRefusedError(111, "refused"), "no-dbus-daemon", "dbus-daemon is not running"),
        (PermissionError(13, "Permission denied"), "denied", "`bluetooth` group"),
        (AuthError("EXTERNAL rejected"), "denied", "run batmux as root"),
        (
            BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["policy"]),
            "denied",
            "D-Bus policy",
        ),
        (
            BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["no org.bluez"]),
            "no-bluetoothd",
            "systemctl start bluetooth",
        ),
        (BleakError("adapter 'hci7' not found"), "no-adapter-hci7", "bluetoothctl list"),
        (
            BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            ),
            "no-adapter",
            "plug one in",
        ),
        (
            BleakBluetoothNotAvailableError(
                "powered off", BleakBluetoothNotAvailableReason.POWERED_OFF
            ),
            "powered-off",
            "bluetoothctl power on",
        ),
    ],
)
def test_each_cause_has_a_name_and_advice(error: BaseException, cause: str, advice: str) -> None:
    unavailable = explain(error, "hci0")
    assert unavailable is not None
    assert unavailable.cause == cause
    assert advice in str(unavailable)


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError(),
        BleakError("Device with address C8:47:8C:00:00:01 was not found"),
        BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
        BleakDBusError("org.bluez.Error.NotAuthorized", ["needs a bond"]),  # the device's, not ours
    ],
)
def test_device_failures_are_not_blamed_on_the_host(error: BaseException) -> None:
    assert explain(error) is None


def test_the_socket_named_is_the_one_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    assert system_bus_socket() == "/run/dbus/system_bus_socket"
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/tmp/x/bus.sock,guid=abc")
    assert system_bus_socket() == "/tmp/x/bus.sock"
    explained = explain(FileNotFoundError(2, "No such file"))
    assert explained is not None and "/tmp/x/bus.sock" in str(explained)
