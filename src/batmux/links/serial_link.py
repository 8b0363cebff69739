"""A serial port (or pty) as an async byte stream; pyserial errors become ``LinkError``s."""

from __future__ import annotations

import asyncio
import logging

import serial
import serial_asyncio

from batmux.errors import DeviceNotFound, LinkError, LinkTimeout

log = logging.getLogger(__name__)


class SerialLink:
    """``open()``, ``read(timeout)``, ``write(data)``, ``close()`` on one port (8N1 default).

    ``port`` is a device path or any pyserial URL (``socket://host:port``, ``rfc2217://…``).
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 19200,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.framing = {"bytesize": bytesize, "parity": parity, "stopbits": stopbits}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def open(self, timeout: float = 5.0) -> None:
        if self.is_open:
            return
        try:
            async with asyncio.timeout(timeout):
                self._reader, self._writer = await serial_asyncio.open_serial_connection(
                    url=self.port, baudrate=self.baudrate, **self.framing
                )
        except TimeoutError as exc:
            raise LinkTimeout(f"{self.port}: open timed out") from exc
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotFound(f"{self.port}: {exc}") from exc

    async def read(self, timeout: float) -> bytes:
        """Whatever bytes arrived (at least one); ``LinkTimeout`` when nothing came."""
        if self._reader is None:
            raise LinkError(f"{self.port}: not open")
        try:
            async with asyncio.timeout(timeout):
                data = await self._reader.read(4096)
        except TimeoutError as exc:
            raise LinkTimeout(f"{self.port}: nothing received for {timeout:g} s") from exc
        except (serial.SerialException, OSError) as exc:
            await self.close()
            raise LinkError(f"{self.port}: {exc}") from exc
        if not data:
            await self.close()
            raise LinkError(f"{self.port}: port closed")
        return data

    async def write(self, data: bytes) -> None:
        if self._writer is None:
            raise LinkError(f"{self.port}: not open")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (serial.SerialException, OSError) as exc:
            await self.close()
            raise LinkError(f"{self.port}: {exc}") from exc

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        try:
            writer.close()
        except (serial.SerialException, OSError) as exc:  # closing a vanished port
            log.debug("%s: close: %s", self.port, exc)
