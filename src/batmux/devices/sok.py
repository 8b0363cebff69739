"""SOK / ABC-BMS driver: C1 (status + MOSFETs), C2 (status, details, cells), C4 (protection,
optional: a pack that never answered it is not asked again)."""

from __future__ import annotations

import time
from typing import ClassVar

from batmux.devices.ble_driver import BleDriver, BleSpec
from batmux.errors import LinkTimeout
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import sok

CELL_GAP_S = 0.3  # quiet time that ends the F4 burst while the cell count is still unknown
PROTECTION_TIMEOUT_S = 1.0


class SokDriver(BleDriver):
    spec: ClassVar[BleSpec] = BleSpec(
        service_uuid=uuid16(0xFFE0),
        notify_uuid=uuid16(0xFFE1),
        write_uuid=uuid16(0xFFE2),
        name_patterns=(r"^SOK-", r"^ABC-", r"^NB-", r"^Hoover"),
    )
    codec: sok.SokCodec
    cell_frames: int | None = None  # F4 frames per C2 answer, learned on the first read
    has_protection: bool | None = None

    async def _request(self, cmd: int, timeout: float) -> list[bytes]:
        """Send one request and gather its replies (the F4 burst included)."""
        need = set(sok.EXPECTED_REPLIES[cmd])
        self.drain()
        await self.send(sok.request(cmd))
        deadline = time.monotonic() + timeout
        got: list[bytes] = []
        cells = 0
        while need or (sok.F_CELLS in sok.EXPECTED_REPLIES[cmd] and self._more_cells(cells)):
            wait = deadline - time.monotonic()
            if not need and self.cell_frames is None:
                wait = min(wait, CELL_GAP_S)
            try:
                frame = await self.next_frame(
                    lambda f: f[1] in sok.EXPECTED_REPLIES[cmd], max(0.0, wait)
                )
            except LinkTimeout:
                if need or self.cell_frames is not None:
                    raise
                break  # quiet after the last F4: the burst is complete
            need.discard(frame[1])
            cells += frame[1] == sok.F_CELLS
            got.append(frame)
        if cmd == sok.CMD_DETAIL and self.cell_frames is None:
            self.cell_frames = cells
        return got

    def _more_cells(self, received: int) -> bool:
        return self.cell_frames is None or received < self.cell_frames

    async def read_sample(self, timeout: float) -> BatterySample:
        frames = await self._request(sok.CMD_INFO, timeout)
        frames += await self._request(sok.CMD_DETAIL, timeout)
        if self.has_protection is not False:
            try:
                frames += await self._request(
                    sok.CMD_PROTECTION, min(timeout, PROTECTION_TIMEOUT_S)
                )
                self.has_protection = True
            except LinkTimeout:
                # Not every pack answers C4; one that never did is not asked again.
                self.has_protection = bool(self.has_protection)
        return self.decode_now(self.codec, frames)
