"""Per-device health counters, published as diagnostic entities."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Health:
    """What went right and wrong with one device since start."""

    samples: int = 0
    connects: int = 0
    drops: int = 0
    timeouts: int = 0
    corrupt_frames: int = 0
    implausible: int = 0
    errors: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    # BLE through proxies / ``adapter: auto``: where the link is (``proxy:<name>``, ``hci0``)
    ble_path: str | None = None
    ble_rssi: int | None = None

    def error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        self.last_error_at = time.time()

    def to_json(self) -> dict[str, object]:
        # Flat scalars only, so a shallow copy equals asdict() at a fraction of its cost.
        out = dict(self.__dict__)
        if self.ble_path is None:  # only links that can change path report one
            del out["ble_path"], out["ble_rssi"]
        return out
