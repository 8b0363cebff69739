"""Load the CAN vectors from shared/vectors/can and build test states."""

from __future__ import annotations

import json
import time
from typing import Any

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from shared_dir import find_shared

VECTORS = find_shared() / "vectors" / "can"


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text())


def frames(
    vector: dict[str, Any], direction: str | None = "battery->inverter"
) -> list[tuple[int, bytes]]:
    """(id, data) of every frame, optionally only one direction (frames without 'dir' count)."""
    return [
        (int(f["id"], 16), bytes.fromhex(f["data"]))
        for f in vector["frames"]
        if direction is None or f.get("dir", direction) == direction
    ]


def by_id(vector: dict[str, Any]) -> dict[int, bytes]:
    return dict(frames(vector, None))


def state(
    limits: ChargeLimits | None,
    available: bool = True,
    age_s: float = 0.0,
    **sample: Any,
) -> BatteryState:
    now = time.time() - age_s
    return BatteryState(
        name="bank",
        available=available,
        sample=BatterySample(timestamp=now, **sample),
        limits=limits,
        last_good_at=now,
    )
