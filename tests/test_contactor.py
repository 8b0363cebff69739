"""The pure contactor state machine: every transition and every interlock, table-driven."""

from __future__ import annotations

import pytest

from batmux.core.contactor import Contactor, Interlocks, State

OK = Interlocks()
FAILS = [
    (Interlocks(no_fault=False), "fault alarm"),
    (Interlocks(hvil_ok=False), "HVIL open"),
    (Interlocks(hvil_ok=False, hvil_known=False), "HVIL unknown"),
    (Interlocks(inverter_ok=False), "inverter silent"),
    (Interlocks(isolation_ok=False), "isolation fault"),
    (Interlocks(fresh=False), "stale data"),
]


def machine(state: State = State.OPEN, allowed: bool = True) -> Contactor:
    c = Contactor(allowed=allowed, close_timeout_s=5.0, open_timeout_s=10.0)
    c.state, c.since = state, 0.0
    return c


@pytest.mark.parametrize(
    ("start", "locks", "pack", "now", "end", "reason"),
    [
        (State.PRECHARGE, OK, "open", 1.0, State.PRECHARGE, None),
        (State.PRECHARGE, OK, "closing", 1.0, State.CLOSING, "pack precharging"),
        (State.PRECHARGE, OK, "closed", 1.0, State.CLOSED, "pack reports closed"),
        (State.CLOSING, OK, "closed", 1.0, State.CLOSED, "pack reports closed"),
        (State.PRECHARGE, OK, "open", 6.0, State.FAULT, "pack did not close within 5 s"),
        (State.CLOSING, OK, "closing", 6.0, State.FAULT, "pack did not close within 5 s"),
        (State.CLOSED, OK, "closed", 100.0, State.CLOSED, None),
        (State.CLOSED, OK, "open", 1.0, State.FAULT, "pack reports open while commanded closed"),
        (State.OPENING, OK, "closed", 1.0, State.OPENING, None),
        (State.OPENING, OK, "open", 1.0, State.OPEN, "pack reports open"),
        (State.OPENING, OK, "closed", 11.0, State.FAULT, "pack did not open within 10 s"),
        (State.CLOSED, OK, "welded", 1.0, State.WELDED, "pack reports welded"),
        (State.OPEN, OK, "welded", 1.0, State.WELDED, "pack reports welded"),
        (State.WELDED, OK, "open", 1.0, State.WELDED, None),
        (State.OPEN, Interlocks(no_fault=False), "open", 1.0, State.OPEN, None),
    ],
)
def test_update_transitions(start, locks, pack, now, end, reason) -> None:
    c = machine(start)
    step = c.update(now, locks, pack)
    assert c.state == end
    assert (step.reason if step else None) == reason


@pytest.mark.parametrize("start", [State.PRECHARGE, State.CLOSING, State.CLOSED])
@pytest.mark.parametrize(("locks", "why"), FAILS)
def test_failing_interlock_opens(start, locks, why) -> None:
    c = machine(start)
    step = c.update(1.0, locks, "closed")
    assert c.state == State.OPENING and step is not None and step.reason == why
    assert not c.sending


@pytest.mark.parametrize(("locks", "why"), FAILS)
def test_close_refused_by_interlock(locks, why) -> None:
    c = machine()
    assert c.request_close(0.0, locks) == why
    assert c.state == State.OPEN and not c.sending


def test_close_refused_without_control() -> None:
    c = machine(allowed=False)
    assert "not allowed" in (c.request_close(0.0, OK) or "")
    assert c.state == State.OPEN


def test_close_refused_when_welded() -> None:
    assert machine(State.WELDED).request_close(0.0, OK) == "contactor welded"


@pytest.mark.parametrize("start", [State.OPEN, State.FAULT, State.OPENING])
def test_close_accepted_starts_precharge(start) -> None:
    c = machine(start)
    assert c.request_close(2.0, OK) is None
    assert c.state == State.PRECHARGE and c.sending and c.since == 2.0


@pytest.mark.parametrize("start", [State.PRECHARGE, State.CLOSING, State.CLOSED])
def test_open_command_and_shutdown(start) -> None:
    c = machine(start)
    step = c.request_open(3.0, "shutdown")
    assert step is not None and step.after == State.OPENING and step.reason == "shutdown"
    assert not c.sending


@pytest.mark.parametrize("start", [State.OPEN, State.FAULT, State.WELDED])
def test_open_when_not_sending_is_a_no_op(start) -> None:
    c = machine(start)
    assert c.request_open(3.0) is None and c.state == start


def test_full_cycle_logs_one_line_per_change() -> None:
    c = machine()
    assert c.request_close(0.0, OK) is None
    for t, pack in [
        (0.05, "open"),
        (0.1, "closing"),
        (0.2, "closing"),
        (0.6, "closed"),
        (1.0, "closed"),
    ]:
        c.update(t, OK, pack)
    c.request_open(2.0)
    c.update(2.5, OK, "closed")
    c.update(11.0, OK, "open")
    assert [s.after for s in c.log] == [
        State.PRECHARGE,
        State.CLOSING,
        State.CLOSED,
        State.OPENING,
        State.OPEN,
    ]


@pytest.mark.parametrize(
    ("state", "pack", "shown"),
    [
        (State.OPEN, "open", "open"),
        (State.OPEN, None, "open"),
        (State.PRECHARGE, "open", "precharge"),
        (State.CLOSING, "closing", "closing"),
        (State.CLOSING, "closed", "closed"),
        (State.CLOSED, "closed", "closed"),
        (State.OPENING, "closed", "opening"),
        (State.FAULT, "open", "fault"),
        (State.WELDED, "closed", "welded"),
        (State.OPEN, "closed", "closed"),  # the pack's view wins when batmux is idle
    ],
)
def test_combined_state(state, pack, shown) -> None:
    assert machine(state).combined(pack) == shown
