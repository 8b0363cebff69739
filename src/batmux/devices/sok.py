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
CELL_SUM_TOLERANCE = 0.03  # cells vs pack voltage; one lost cell of a 32s pack is 3.1 %


def _whole(frames: list[bytes], cell_frames: list[bytes]) -> bool:
    """F4 frames numbered 1, 5, 9 … without a gap whose cells add up to F0's pack voltage."""
    firsts = sorted(f[2] for f in cell_frames)
    step = sok.CELLS_PER_FRAME
    if not firsts or firsts != list(range(1, step * len(firsts), step)):
        return False
    status = next((f for f in frames if f[1] == sok.F_STATUS), None)
    if status is None:
        return False
    pack_v = int.from_bytes(status[2:5], "little") / 1000
    return abs(sum(sok.decode_cells(cell_frames)) - pack_v) <= CELL_SUM_TOLERANCE * pack_v


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
        """The first C2: gather until the F4 burst goes quiet. A corrupted F4 header vanishes
        without a trace, so the cell count is learnt only when it cannot be short: the good
        frames of every burst so far have F4 frames numbered 1, 5, 9 … without a gap and
        cells that add up to the pack voltage (a lost last F4 would not), or two clean bursts
        agree. Asked again up to ``LEARN_ASKS`` times (once per connection)."""
        got: dict[Hashable, bytes] = {}  # good frames of every burst, a late duplicate once
        clean_counts: set[int] = set()
        for attempt in range(LEARN_ASKS):
            last = attempt == LEARN_ASKS - 1
            share = min(left(deadline) / (LEARN_ASKS - attempt), RESEND_S)
            count, clean = await self._gather(cmd, deadline if last else deadline_in(share), got)
            frames = list(got.values())
            cell_frames = [f for f in frames if f[1] == sok.F_CELLS]
            if _whole(frames, cell_frames):
                self.cell_frames = len(cell_frames)
                return frames
            if clean and count in clean_counts:
                self.cell_frames = count
                return frames
            if clean:
                clean_counts.add(count)
        raise CorruptFrame("SOK cell frames: no complete burst to learn the cell count from")

    async def _gather(self, cmd: int, until: float, got: dict[Hashable, bytes]) -> tuple[int, bool]:
        """One request; its good frames go into ``got`` until the burst goes quiet. Returns
        the F4 frames of this burst and whether it was clean (complete, nothing corrupt)."""
        expected = sok.EXPECTED_REPLIES[cmd]
        need = set(expected)
        self.drain()
        corrupt_before = self.codec.corrupt_frames
        await self.send(sok.request(cmd))
        cells: set[Hashable] = set()
        while True:
            wait = left(until) if need else min(left(until), CELL_GAP_S)
            try:
                frame = await self.next_frame(lambda f: f[1] in expected, wait)
            except LinkTimeout:
                break  # quiet after the last F4 (or, with ``need`` left, an incomplete one)
            need.discard(frame[1])
            got[_key(frame)] = frame
            if frame[1] == sok.F_CELLS:
                cells.add(_key(frame))
        return len(cells), not need and self.codec.corrupt_frames == corrupt_before

    async def _protection(self, timeout: float) -> list[bytes]:
        """C4 once; silence means "not supported" (no second ask), a corrupt answer asks
        again. Keyed, so a corrupt leftover of the C2 answers does not count as ours."""
        request, accept = sok.request(sok.CMD_PROTECTION), lambda f: f[1] == sok.F_PROTECTION
        for attempt in range(ASKS):
            try:
                return await self.ask(request, accept, deadline_in(timeout), asks=1, key=_key)
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
            except CorruptFrame:
                if self.has_protection:
                    raise  # its flags matter: no sample without them
                # never answered yet: whether it can is still open, ask again next time
        return self.decode_now(self.codec, frames)
