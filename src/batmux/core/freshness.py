"""When a battery state counts as fresh enough to merge, count or compute limits from."""

from __future__ import annotations

from batmux.model.state import BatteryState


def last_good(state: BatteryState) -> float:
    if state.last_good_at:
        return state.last_good_at
    return state.sample.timestamp if state.sample is not None else 0.0


def is_fresh(state: BatteryState | None, now: float, stale_after: float) -> bool:
    return (
        state is not None
        and state.available
        and state.sample is not None
        and now - last_good(state) <= stale_after
    )
