"""Polling the LEAF's LBC for cells and temperatures, sans-I/O (the source sends what it returns).

Every ``interval_s`` one round: request group 0x01, 0x02, 0x04 in turn (``02 21 GG`` on 0x79B),
each after the previous reply is complete or ``reply_timeout_s`` passed. The LBC answers on
0x7BB with an ISO-TP first frame; we answer it with a flow control ``30 BS 00`` and, with a
block size BS > 0 (default 1, as Battery-Emulator sends), again after every BS consecutive
frames, until the announced length has arrived.

Someone else polling (LeafSpy on the OBD port): any 0x79B frame we receive was not sent by us
(a CAN controller does not receive its own frames), so we stop requesting for ``backoff_s``
(Battery-Emulator: 100 s) and leave the replies' flow control to that tool. The replies are
still decoded passively.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batmux.protocols.isotp import CONSECUTIVE, FIRST, SINGLE, flow_control, kind
from batmux.protocols.nissan_leaf_frames import REPLY, REQUEST

GROUPS = (0x01, 0x02, 0x04)
GAP_S = 0.02  # between one reply and the next request


def group_request(group: int) -> bytes:
    return bytes([0x02, 0x21, group]) + bytes(5)


@dataclass
class LbcPoller:
    interval_s: float = 10.0
    groups: tuple[int, ...] = GROUPS
    reply_timeout_s: float = 1.0
    backoff_s: float = 100.0
    block_size: int = 1
    requests: int = 0
    timeouts: int = 0
    foreign_requests: int = 0
    _next_round: float = 0.0
    _queue: list[int] = field(default_factory=list)
    _waiting_since: float | None = None  # our request is out, its reply not complete
    _remaining: int = 0  # payload bytes of the reply still to come
    _in_block: int = 0
    _next_request: float = 0.0
    _backoff_until: float = float("-inf")

    def backing_off(self, now: float) -> bool:
        return now < self._backoff_until

    def poll(self, now: float) -> list[bytes]:
        """The request to send now on 0x79B, if any."""
        if self.interval_s <= 0 or self.backing_off(now):
            return []
        if self._waiting_since is not None:
            if now - self._waiting_since < self.reply_timeout_s:
                return []
            self.timeouts += 1
            self._done(now)
        if not self._queue and now >= self._next_round:
            self._queue = list(self.groups)
            self._next_round = now + self.interval_s
        if not self._queue or now < self._next_request:
            return []
        group = self._queue.pop(0)
        self._waiting_since, self._remaining = now, 0
        self.requests += 1
        return [group_request(group)]

    def on_frame(self, can_id: int, data: bytes, now: float) -> list[bytes]:
        """Frames to send on 0x79B in answer to a received frame (flow control)."""
        if can_id == REQUEST:
            self.foreign_requests += 1
            self._backoff_until = now + self.backoff_s
            self._waiting_since = None
            self._queue.clear()
            return []
        if can_id != REPLY or self._waiting_since is None or not data:
            return []
        pci = kind(data)
        if pci == SINGLE:
            self._done(now)
        elif pci == FIRST and len(data) >= 2:
            self._remaining = max(0, ((data[0] & 0x0F) << 8 | data[1]) - 6)
            self._in_block = 0
            self._waiting_since = now
            return [flow_control(self.block_size)]
        elif pci == CONSECUTIVE and self._remaining > 0:
            self._remaining = max(0, self._remaining - 7)
            self._waiting_since = now  # still answering: the timeout measures silence
            if self._remaining == 0:
                self._done(now)
            elif self.block_size:
                self._in_block += 1
                if self._in_block >= self.block_size:
                    self._in_block = 0
                    return [flow_control(self.block_size)]
        return []

    def _done(self, now: float) -> None:
        self._waiting_since = None
        self._remaining = 0
        self._next_request = now + GAP_S
