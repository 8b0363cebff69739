"""What the external precharge and main relays should be, from the contactor state machine.
Pure: the time since the close began is passed in.

    close:  precharge on ── precharge_s ──▶ main on ── overlap_s ──▶ precharge off
    any state but precharge/closing/closed: both off (main first: ``RelayOutput`` orders it)
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSING_STATES = frozenset({"precharge", "closing", "closed"})


@dataclass(frozen=True, slots=True)
class RelayPlan:
    precharge: bool
    main: bool
    reason: str


def plan(state: str, closing_for: float, precharge_s: float, overlap_s: float) -> RelayPlan:
    """The relays for contactor ``state``, ``closing_for`` s after the close began."""
    if state not in CLOSING_STATES:
        return RelayPlan(False, False, f"contactor {state}")
    if closing_for < precharge_s:
        return RelayPlan(True, False, "precharge")
    if closing_for < precharge_s + overlap_s:
        return RelayPlan(True, True, f"precharged for {precharge_s:g} s")
    return RelayPlan(False, True, "main closed, precharge done")
