"""``LinkLost``: the flag a link sets when its connection drops without being asked to.

An ``asyncio.Event`` that also tells listeners at once, so a read in progress can be failed
the moment the link drops without a second task watching the event (two tasks and an
``asyncio.wait`` per sample were a measurable share of a small gateway's CPU).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LinkLost(asyncio.Event):
    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[Callable[[], None]] = []

    def set(self) -> None:
        if self.is_set():
            return
        super().set()
        for listener in list(self.listeners):
            listener()
