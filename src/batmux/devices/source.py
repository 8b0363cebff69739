"""The source contract the runtime samples: one method, ``sample()``.

Polled devices (BLE BMSes) read on each call; push devices (CAN, MQTT JSON, VE.Direct) return
their latest fresh reading or raise ``NoData``. Either way one call yields one sample or raises
a ``BatmuxError``; the runtime counts the error and goes on with the other devices.
"""

from __future__ import annotations

from typing import Protocol

from batmux.devices.health import Health
from batmux.model.sample import BatterySample


class Source(Protocol):
    name: str
    health: Health

    async def sample(self) -> BatterySample: ...

    async def close(self) -> None: ...

    async def set_switch(self, switch: str, on: bool) -> None:
        """Switch ``charge``/``discharge``/``balance`` (``ControlRefused`` if not allowed)."""
