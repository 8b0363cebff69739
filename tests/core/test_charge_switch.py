from batmux.core.bank_config import ChargeSwitchConfig
from batmux.core.charge_switch import DAY_S, ChargeSwitchState, decide_charge_switch


def test_stop_start_hysteresis_and_manual_override() -> None:
    cfg = ChargeSwitchConfig(stop_soc=90, start_soc=80, calibration_days=None)
    state = ChargeSwitchState()
    switch = True
    steps = [
        # (soc, expected action)
        (70, True if not switch else None),
        (85, None),
        (90, False),  # reached stop → off
        (95, None),
        (85, None),  # between: no change
        (80, True),  # at start → on
        (81, None),
    ]
    for i, (soc, expected) in enumerate(steps):
        action = decide_charge_switch(cfg, state, soc, switch, float(i))
        assert action == expected, soc
        if action is not None:
            switch = action
    # the user turns charging back on by hand above stop: it stays until the next crossing
    assert decide_charge_switch(cfg, state, 92, True, 10.0) is False
    assert decide_charge_switch(cfg, state, 93, True, 11.0) is None


def test_start_defaults_to_stop_minus_hysteresis() -> None:
    cfg = ChargeSwitchConfig(stop_soc=90, calibration_days=None)
    state = ChargeSwitchState()
    assert decide_charge_switch(cfg, state, 90, True, 0) is False
    assert decide_charge_switch(cfg, state, 89.9, False, 1) is None
    assert decide_charge_switch(cfg, state, 89.8, False, 2) is True


def test_periodic_calibration_charges_to_100_once() -> None:
    cfg = ChargeSwitchConfig(stop_soc=90, start_soc=80, calibration_days=14)
    state = ChargeSwitchState()
    assert decide_charge_switch(cfg, state, 90, True, 0) is False
    assert state.last_calibration == 0
    t = 14 * DAY_S
    assert decide_charge_switch(cfg, state, 90, False, t) is True  # calibration starts
    assert state.calibrating
    assert decide_charge_switch(cfg, state, 95, True, t + 100) is None  # keeps charging
    assert decide_charge_switch(cfg, state, 100, True, t + 200) is False
    assert not state.calibrating and state.last_calibration == t + 200
    saved = ChargeSwitchState.from_json(state.to_json())
    assert saved == state
    assert decide_charge_switch(cfg, saved, 95, False, t + 300) is None


def test_unknown_soc_does_nothing() -> None:
    cfg = ChargeSwitchConfig(stop_soc=90)
    assert decide_charge_switch(cfg, ChargeSwitchState(), None, True, 0) is None


def test_bad_saved_state_is_ignored() -> None:
    assert ChargeSwitchState.from_json({"zone": 5, "calibrating": "yes"}) == ChargeSwitchState()
    assert ChargeSwitchState.from_json([1, 2]) == ChargeSwitchState()
