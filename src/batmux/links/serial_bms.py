"""A wired BMS port (USB-TTL / RS485 adapter) behind the ``BleLink`` contract.

JBD and Daly speak the same frames on their UART/RS485 port as over Bluetooth, so their BLE
drivers run unchanged on this link: ``write`` sends the bytes on the port, and every chunk the
port delivers goes to the notify callback as it arrives (the codec reassembles, exactly as
with 20-byte notifications). Characteristic UUIDs mean nothing on a wire and are ignored.

``connect``/``disconnect`` open and close the port. Port errors (adapter unplugged, pty gone)
surface as the link errors ``BleakLink`` raises: ``DeviceNotFound`` when the port cannot be
opened, ``LinkError`` when it breaks, plus the ``lost`` event ``BleSource`` watches, so the
source's reconnect, backoff and health counters work as they do for Bluetooth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from batmux.errors import LinkError, LinkTimeout
from batmux.links.ble import NotifyCallback
from batmux.links.link_lost import LinkLost

if TYPE_CHECKING:  # pyserial loads only when a wired battery is built (devices/serial_bms.py)
    from batmux.links.serial_link import SerialLink

log = logging.getLogger(__name__)

SERIAL_PREFIX = "serial:"


def is_serial_address(address: str) -> bool:
    """A battery address names a serial port when it is a ``/dev/…`` path or ``serial:…``."""
    return address.startswith("/dev/") or address.startswith(SERIAL_PREFIX)


def serial_port(address: str) -> str:
    """The port (device path or pyserial URL) of a serial address."""
    return address.removeprefix(SERIAL_PREFIX)


class SerialBmsLink:
    """``BleLink`` over a serial port: writes go out, received bytes come in as notifications."""

    def __init__(self, port: SerialLink, address: str | None = None) -> None:
        self.port = port
        self.address = address or port.port
        self.lost = LinkLost()  # set when the port breaks while open
        self._callback: NotifyCallback | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def is_connected(self) -> bool:
        return self.port.is_open and not self.lost.is_set()

    async def connect(self, timeout: float = 20.0) -> None:
        if self.is_connected:
            return
        await self._stop_reader()
        await self.port.close()
        await self.port.open(timeout)  # DeviceNotFound / LinkTimeout
        self.lost = LinkLost()
        self._reader = asyncio.create_task(self._read_loop(), name=f"serial-bms {self.address}")

    async def disconnect(self) -> None:
        self._callback = None
        await self._stop_reader()
        await self.port.close()

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        self._require()
        self._callback = callback

    async def stop_notify(self, char_uuid: str) -> None:
        self._callback = None

    async def write(self, char_uuid: str, data: bytes, response: bool | None = False) -> None:
        self._require()
        try:
            await self.port.write(bytes(data))
        except LinkError:
            self.lost.set()
            raise

    async def read(self, char_uuid: str) -> bytes:
        raise LinkError(f"{self.address}: a serial port has no readable characteristics")

    # -- internals ---------------------------------------------------------------------------
    def _require(self) -> None:
        if not self.is_connected:
            raise LinkError(f"{self.address} is not open")

    async def _read_loop(self) -> None:
        while True:
            try:
                chunk = await self.port.read(3600.0)
            except LinkTimeout:
                continue  # a quiet line is normal between requests
            except LinkError as exc:
                log.info("%s: port lost: %s", self.address, exc)
                self.lost.set()
                return
            callback = self._callback
            if callback is not None:
                callback(chunk)

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None or reader.done():
            return
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
