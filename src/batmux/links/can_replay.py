"""``batmux replay LOG``: play a candump log onto a CAN bus, keeping its timing.

The sources listening on that bus then see exactly what the user captured. Malformed lines are
counted and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import can

from batmux.errors import LinkError, ProtocolError
from batmux.links.can_bus import CanLink
from batmux.protocols.candump import parse_line

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    frames: int = 0
    skipped_lines: int = 0
    seconds: float = 0.0


async def _send(bus: CanLink | can.BusABC, can_id: int, data: bytes, extended: bool) -> None:
    if isinstance(bus, CanLink):
        await bus.send(can_id, data, extended=extended)
        return
    try:
        bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=extended))
    except can.CanError as exc:
        raise LinkError(f"CAN send 0x{can_id:03X}: {exc}") from exc


async def replay(
    log_path: str | Path, bus: CanLink | can.BusABC, speed: float = 1.0
) -> ReplayResult:
    """Send every frame of ``log_path``; ``speed`` 2.0 = twice as fast, 0 = no delays."""
    result = ReplayResult()
    start = time.monotonic()
    first_ts: float | None = None
    with Path(log_path).open(encoding="ascii", errors="replace") as lines:
        for line in lines:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                record = parse_line(line)
            except ProtocolError as exc:
                result.skipped_lines += 1
                log.debug("replay: skipped %s", exc)
                continue
            if speed > 0 and record.timestamp is not None:
                if first_ts is None:
                    first_ts = record.timestamp
                delay = (record.timestamp - first_ts) / speed - (time.monotonic() - start)
                if delay > 0:
                    await asyncio.sleep(delay)
            await _send(bus, record.arbitration_id, record.data, record.extended)
            result.frames += 1
    result.seconds = time.monotonic() - start
    return result
