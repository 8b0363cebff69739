"""Contactor state machine for EV packs: pure, with an injected clock (no I/O, no timers).

States: open → precharge → closing → closed → opening → open, plus fault and welded.
``precharge``/``closing``/``closed`` mean "the keep-alive must be sent"; ``opening`` means
"run the open sequence / stop the keep-alive and wait for the pack to report open".

Interlocks (checked before a close and on every update while not open): no fault alarm,
HVIL reported closed (unknown counts as open), no isolation fault, fresh data, and, when
configured, an inverter link that is not silent. Any failing interlock while closing or closed
opens the contactors; a close request with a failing interlock is refused with a reason.
The pack's own view (``pack``: the reader's ``contactor`` field) drives the progress, so a
pack that opens by itself (keep-alive lost) is a fault, and a pack that reports ``welded``
is terminal until restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    OPEN = "open"
    PRECHARGE = "precharge"
    CLOSING = "closing"
    CLOSED = "closed"
    OPENING = "opening"
    FAULT = "fault"
    WELDED = "welded"


# States in which the keep-alive (vehicle presence) must be on the bus.
SENDING = frozenset({State.PRECHARGE, State.CLOSING, State.CLOSED})


@dataclass(frozen=True)
class Interlocks:
    """What the latest sample says; every field True means "safe to be closed"."""

    no_fault: bool = True
    hvil_ok: bool = True
    hvil_known: bool = True  # an HVIL the pack never reported is not a closed HVIL
    isolation_ok: bool = True
    fresh: bool = True
    inverter_ok: bool = True  # the inverter link talked within its bound (when configured)

    def reason(self) -> str | None:
        """The first failing interlock, or None when all hold."""
        if not self.fresh:
            return "stale data"
        if not self.no_fault:
            return "fault alarm"
        if not self.hvil_known:
            return "HVIL unknown"
        if not self.hvil_ok:
            return "HVIL open"
        if not self.isolation_ok:
            return "isolation fault"
        if not self.inverter_ok:
            return "inverter silent"
        return None


@dataclass(frozen=True)
class Transition:
    before: State
    after: State
    reason: str


@dataclass
class Contactor:
    """One pack's contactor control. Call ``update`` with every sample (and periodically)."""

    allowed: bool = False
    close_timeout_s: float = 10.0  # precharge + closing must finish within this
    open_timeout_s: float = 10.0  # the open sequence (3 s × 3 on a Tesla) must finish
    state: State = State.OPEN
    reason: str = "start"
    since: float = 0.0
    want_closed: bool = False
    log: list[Transition] = field(default_factory=list)

    @property
    def sending(self) -> bool:
        return self.state in SENDING

    def _go(self, now: float, state: State, reason: str) -> Transition | None:
        if state == self.state:
            return None
        step = Transition(self.state, state, reason)
        self.state, self.reason, self.since = state, reason, now
        self.log.append(step)
        return step

    def request_close(self, now: float, locks: Interlocks, reason: str = "command") -> str | None:
        """Start closing; returns None when accepted, else the refusal reason."""
        if not self.allowed:
            return "control not allowed (allow_control: false or no contactors: section)"
        if self.state == State.WELDED:
            return "contactor welded"
        why = locks.reason()
        if why is not None:
            return why
        self.want_closed = True
        if self.state in (State.OPEN, State.FAULT, State.OPENING):
            self._go(now, State.PRECHARGE, reason)
        return None

    def request_open(self, now: float, reason: str = "command") -> Transition | None:
        self.want_closed = False
        if self.state in SENDING:
            return self._go(now, State.OPENING, reason)
        return None

    def update(self, now: float, locks: Interlocks, pack: str | None) -> Transition | None:
        """Advance with the pack's reported contactor state; returns the change, if any."""
        if pack == "welded":
            self.want_closed = False
            return self._go(now, State.WELDED, "pack reports welded")
        if self.state == State.WELDED:
            return None
        why = locks.reason()
        if self.state in SENDING and why is not None:
            self.want_closed = False
            return self._go(now, State.OPENING, why)
        elapsed = now - self.since
        if self.state == State.PRECHARGE:
            if pack == "closed":
                return self._go(now, State.CLOSED, "pack reports closed")
            if pack == "closing":
                return self._go(now, State.CLOSING, "pack precharging")
        if self.state == State.CLOSING and pack == "closed":
            return self._go(now, State.CLOSED, "pack reports closed")
        if self.state in (State.PRECHARGE, State.CLOSING) and elapsed > self.close_timeout_s:
            self.want_closed = False
            return self._go(
                now, State.FAULT, f"pack did not close within {self.close_timeout_s:g} s"
            )
        if self.state == State.CLOSED and pack in ("open", "opening"):
            self.want_closed = False
            return self._go(now, State.FAULT, f"pack reports {pack} while commanded closed")
        if self.state == State.OPENING:
            if pack == "open":
                return self._go(now, State.OPEN, "pack reports open")
            if elapsed > self.open_timeout_s:
                return self._go(
                    now, State.FAULT, f"pack did not open within {self.open_timeout_s:g} s"
                )
        return None

    def combined(self, pack: str | None) -> str:
        """The state JSON's ``contactor``: fault/welded and transitions from batmux win, else
        the pack's own view (it is what the HV bus really sees), else batmux's state."""
        if self.state in (State.FAULT, State.WELDED, State.PRECHARGE, State.OPENING):
            return self.state.value
        if self.state == State.CLOSING and pack != "closed":
            return self.state.value
        return pack or self.state.value
