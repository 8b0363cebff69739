"""``batmux replay LOG``: play a CAN log onto a CAN bus, keeping its timing.

candump, SavvyCAN CSV, GVRET CSV and CRTD logs, detected from their first line
(``protocols.can_logs``). The sources listening on that bus then see exactly what the user
captured. Malformed lines are counted and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import can

from batmux.errors import LinkError
from batmux.links.can_bus import CanLink
from batmux.protocols.can_logs import records

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

    def skip(reason: str) -> None:
        result.skipped_lines += 1
        log.debug("replay: skipped %s", reason)

    with Path(log_path).open(encoding="ascii", errors="replace") as lines:
        for record in records(lines, skip):
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
