"""SOK / ABC-BMS driver: C1 (status + MOSFETs), C2 (status, details, cells), C4 (protection,
optional: a pack that never answered it is not asked again).

Every answer is several frames; a corrupt or missing one asks again (``PolledBleDriver.ask``)
and the good frames already received count, told apart by type and, for F4, by the index of
their first cell. The number of F4 frames is learnt from the first complete C2 answer."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import ASKS, RESEND_S, PolledBleDriver, deadline_in, left
from batmux.errors import CorruptFrame, LinkTimeout
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import sok

CELL_GAP_S = 0.3  # quiet time that ends the F4 burst while the cell count is still unknown
PROTECTION_TIMEOUT_S = 1.0
LEARN_ASKS = 2 * ASKS  # C2 requests to learn the cell count from a burst without corruption


def _key(frame: bytes) -> Hashable:
    """Which part of an answer a frame is: its type, and for F4 its first cell's index."""
    return (frame[1], frame[2]) if frame[1] == sok.F_CELLS else frame[1]


class SokDriver(PolledBleDriver):
    spec: ClassVar[BleSpec] = BleSpec(
        service_uuid=uuid16(0xFFE0),
        notify_uuid=uuid16(0xFFE1),
        write_uuid=uuid16(0xFFE2),
        name_patterns=(r"^SOK-", r"^ABC-", r"^NB-", r"^Hoover"),
    )
    codec: sok.SokCodec
    cell_frames: int | None = None  # F4 frames per C2 answer, learned on the first read
    has_protection: bool | None = None

    async def _request(self, cmd: int, deadline: float) -> list[bytes]:
        """Send one request until all of its replies (the F4 burst included) have arrived."""
        expected = sok.EXPECTED_REPLIES[cmd]
        count = len(expected)
        if sok.F_CELLS in expected:
            if self.cell_frames is None:
                return await self._learn_cells(cmd, deadline)
            count += self.cell_frames - 1
        return await self.ask(
            sok.request(cmd), lambda f: f[1] in expected, deadline, count, key=_key
        )

    async def _learn_cells(self, cmd: int, deadline: float) -> list[bytes]:
        """The first C2: gather until the F4 burst goes quiet. A burst with a corrupt frame
        might have a hole, so only a clean one teaches the cell count: asked again up to
        ``LEARN_ASKS`` times (once per connection, so the cost is small)."""
        for attempt in range(LEARN_ASKS):
            last = attempt == LEARN_ASKS - 1
            share = min(left(deadline) / (LEARN_ASKS - attempt), RESEND_S)
            try:
                return await self._gather(cmd, deadline if last else deadline_in(share))
            except (CorruptFrame, LinkTimeout):
                if last:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _gather(self, cmd: int, until: float) -> list[bytes]:
        expected = sok.EXPECTED_REPLIES[cmd]
        need = set(expected)
        self.drain()
        await self.send(sok.request(cmd))
        got: list[bytes] = []
        cells: set[Hashable] = set()  # distinct F4 frames: a late one of an earlier ask repeats
        while True:
            wait = left(until) if need else min(left(until), CELL_GAP_S)
            try:
                frame = await self.next_frame(lambda f: f[1] in expected, wait,
                                              stop_on_corrupt=True)  # fmt: skip
            except LinkTimeout:
                if need:
                    raise
                break  # quiet after the last F4: the burst is complete
            need.discard(frame[1])
            if frame[1] == sok.F_CELLS:
                cells.add(_key(frame))
            got.append(frame)
        self.cell_frames = len(cells)
        return got

    async def _protection(self, timeout: float) -> list[bytes]:
        """C4 once; silence means "not supported" (no second ask), a corrupt answer asks
        again."""
        request, accept = sok.request(sok.CMD_PROTECTION), lambda f: f[1] == sok.F_PROTECTION
        for attempt in range(ASKS):
            try:
                return await self.ask(request, accept, deadline_in(timeout), asks=1)
            except CorruptFrame:
                if attempt == ASKS - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def read_sample(self, timeout: float) -> BatterySample:
        deadline = deadline_in(timeout)
        frames = await self._request(sok.CMD_INFO, deadline)
        frames += await self._request(sok.CMD_DETAIL, deadline)
        if self.has_protection is not False:
            try:
                frames += await self._protection(min(timeout, PROTECTION_TIMEOUT_S))
                self.has_protection = True
            except LinkTimeout:
                # Not every pack answers C4; one that never did is not asked again.
                self.has_protection = bool(self.has_protection)
        return self.decode_now(self.codec, frames)
