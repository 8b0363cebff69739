"""The BLE link contract: the small part of bleak's client that drivers use.

The real implementation (``BleakLink``) wraps bleak + bleak-retry-connector; the simulated
peripheral (``batmux.sim.peripheral.SimPeripheral``) implements the same methods, so drivers
never know which one they talk to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from batmux.errors import LinkError

NotifyCallback = Callable[[bytes], None]


class PairingFailed(LinkError):
    """The device refused the bond or a read that needs it (wrong or missing PIN)."""


class BluetoothUnavailable(LinkError):
    """The host's Bluetooth stack is not reachable: no system D-Bus, no bluetoothd, no such
    adapter, or no permission. ``str()`` says what is missing and what to do; ``cause`` is a
    short stable key (the same cause keeps the same key, so it can be logged once)."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@runtime_checkable
class BleLink(Protocol):
    """A connection to one BLE peripheral."""

    address: str

    @property
    def is_connected(self) -> bool: ...

    async def connect(self, timeout: float = 20.0) -> None:
        """Connect (or raise ``DeviceNotFound`` / ``LinkTimeout`` / ``LinkError``)."""

    async def disconnect(self) -> None: ...

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None: ...

    async def stop_notify(self, char_uuid: str) -> None: ...

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        """Write command (``False``), write request (``True``) or, with ``None``, whichever the
        characteristic declares (a request when it has the ``write`` property)."""

    async def read(self, char_uuid: str) -> bytes: ...


def uuid16(short: int) -> str:
    """The full 128-bit UUID string of a 16-bit Bluetooth SIG UUID."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"
