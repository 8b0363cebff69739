"""Contactor control of a Nissan LEAF pack: the car's keep-alive under ``core.contactor``.

A LEAF pack closes its own main relay while the "car" (the VCM) keeps talking to it: 0x1D4 and
0x1F2 every 10 ms, 0x50B and 0x50C (the ALU challenge) every 100 ms
(``protocols.nissan_leaf_keepalive``). batmux sends them only while the state machine is in
precharge/closing/closed **and** the pack's own 0x1DB is being received (never into a bus
without a LEAF on it); opening is silence, after which the pack opens its relay. The pack's
view is 0x1DB's "main relay on" (``contactor``) and its interlock bit (``hvil_ok``).

Everything else (interlocks, stale bound, inverter silence, shutdown, commands, relays) is
``PackControl``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from batmux.devices.pack_control import PackControl
from batmux.protocols import nissan_leaf_keepalive as ka
from batmux.protocols.candump import Frame

PERIOD_S = 0.01


class LeafControl(PackControl):
    def __init__(
        self, source: Any, contactors: Any, clock: Callable[[], float] = time.monotonic, **kw: Any
    ) -> None:
        super().__init__(source, contactors, clock, **kw)
        self.period_s = PERIOD_S
        self._tick = 0

    def frames_now(self) -> list[Frame] | None:
        """The keep-alive frames due now, or None for silence (opening is silence)."""
        if not self.machine.sending or not self.source._pack_seen():
            return None
        frames = ka.frames_at(self._tick)
        self._tick += 1
        return frames

    def wire_frames(self) -> list[Frame] | None:
        return self.frames_now()
