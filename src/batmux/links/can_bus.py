"""A python-can bus as an asyncio link: send, receive, optional candump log.

python-can exceptions are translated here, once: a bus that cannot be opened raises
``DeviceNotFound``, a failed send or a dead receive thread ``LinkError``. Everything that goes
out or comes in can be written to a ``candump -L`` file (``log:``) so a user's capture can be
replayed later with ``batmux replay``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import can

from batmux.errors import DeviceNotFound, LinkError
from batmux.links.can_config import CanBusConfig
from batmux.protocols.candump import Frame, format_line

log = logging.getLogger(__name__)

BusFactory = Callable[[CanBusConfig], can.BusABC]


def open_bus(config: CanBusConfig) -> can.BusABC:
    """The python-can bus for a config (``DeviceNotFound`` when it cannot be opened)."""
    kwargs: dict[str, Any] = dict(config.options)
    if config.interface != "virtual":
        kwargs.setdefault("bitrate", config.bitrate)
    try:
        return can.Bus(interface=config.interface, channel=config.channel, **kwargs)
    except (can.CanError, OSError, ValueError, ImportError) as exc:
        raise DeviceNotFound(
            f"CAN {config.interface}:{config.channel}: {type(exc).__name__}: {exc}"
        ) from exc


class CanLink:
    """Send and receive classic 11/29-bit frames on one bus."""

    def __init__(
        self,
        config: CanBusConfig,
        log_path: str | Path | None = None,
        bus_factory: BusFactory = open_bus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        log_path = log_path or config.log
        self.log_path = Path(log_path) if log_path else None
        self._bus_factory = bus_factory
        self._clock = clock
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._reader: can.AsyncBufferedReader | None = None
        self._log: IO[str] | None = None
        self.frames_sent = 0
        self.frames_received = 0
        self.errors = 0
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        return self._bus is not None

    async def open(self) -> None:
        if self._bus is not None:
            return
        self._bus = self._bus_factory(self.config)
        self._reader = can.AsyncBufferedReader()
        self._notifier = can.Notifier(
            self._bus, [self._reader], timeout=0.05, loop=asyncio.get_running_loop()
        )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a", encoding="ascii", buffering=1)

    async def close(self) -> None:
        if self._notifier is not None:
            self._notifier.stop(timeout=1.0)
            self._notifier = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> CanLink:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _write_log(
        self, can_id: int, data: bytes, timestamp: float, extended: bool | None = None
    ) -> None:
        if self._log is not None:
            line = format_line(can_id, data, timestamp, self.config.channel, extended)
            self._log.write(line + "\n")

    def _fail(self, message: str, exc: BaseException) -> LinkError:
        self.errors += 1
        self.last_error = message
        return LinkError(message)

    async def send(self, can_id: int, data: bytes, extended: bool | None = None) -> None:
        """``extended`` None: 29-bit only for ids above 0x7FF (Batrium sends low ids as 29-bit)."""
        if self._bus is None:
            raise LinkError("CAN link is not open")
        extended = can_id > 0x7FF if extended is None else extended
        msg = can.Message(arbitration_id=can_id, data=data, is_extended_id=extended)
        try:
            self._bus.send(msg, timeout=0.1)
        except (can.CanError, OSError) as exc:
            raise self._fail(f"CAN send 0x{can_id:03X}: {exc}", exc) from exc
        self.frames_sent += 1
        self._write_log(can_id, bytes(data), self._clock(), extended)

    async def send_all(self, frames: list[Frame]) -> None:
        for can_id, data in frames:
            await self.send(can_id, data)

    async def recv(self, timeout: float | None = None) -> Frame | None:
        """The next received data frame, or None when ``timeout`` passes first."""
        flagged = await self.recv_flagged(timeout)
        return None if flagged is None else (flagged[0], flagged[1])

    async def recv_flagged(self, timeout: float | None = None) -> tuple[int, bytes, bool] | None:
        """``recv`` plus whether the id was 29-bit (for protocols with low extended ids)."""
        if self._reader is None or self._notifier is None:
            raise LinkError("CAN link is not open")
        while True:
            if self._notifier.exception is not None:
                exc = self._notifier.exception
                raise self._fail(f"CAN receive: {exc}", exc) from exc
            try:
                async with asyncio.timeout(timeout):
                    msg = await self._reader.get_message()
            except TimeoutError:
                return None
            if msg.is_error_frame or msg.is_remote_frame:
                continue
            self.frames_received += 1
            data = bytes(msg.data)
            extended = bool(msg.is_extended_id)
            self._write_log(msg.arbitration_id, data, msg.timestamp or self._clock(), extended)
            return msg.arbitration_id, data, extended

    def status(self) -> dict[str, object]:
        return {
            "interface": self.config.interface,
            "channel": self.config.channel,
            "open": self.is_open,
            "frames_sent": self.frames_sent,
            "frames_received": self.frames_received,
            "link_errors": self.errors,
        }
