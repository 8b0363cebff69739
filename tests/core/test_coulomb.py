import pytest

from batmux.core.bank_config import CoulombConfig
from batmux.core.coulomb import CoulombState, apply_coulomb, update_coulomb
from core.bank_factory import cells, sample

CFG = CoulombConfig(full_hold_s=30, empty_hold_s=60)


def run(steps: list[tuple[float, dict, float | None]], cfg: CoulombConfig = CFG) -> CoulombState:
    state = CoulombState()
    for t, changes, current in steps:
        update_coulomb(cfg, state, sample(t, **changes), current, t)
    return state


@pytest.mark.parametrize(
    ("steps", "charge_ah"),
    [
        ([(0, {}, 0.0)], 50.0),  # starts from the BMS SoC × capacity
        ([(0, {}, 0.0), (3600, {}, -10.0)], 50.0),  # gap > max_gap_s: not integrated
        ([(0, {}, 0.0), *[(t, {}, -10.0) for t in range(36, 3601, 36)]], 40.0),
        ([(0, {}, 0.0), *[(t, {}, 10.0) for t in range(36, 3601, 36)]], 59.8),  # × 0.98
        ([(0, {"soc_pct": 99.0}, 0.0), *[(t, {}, 50.0) for t in range(36, 3601, 36)]], 100.0),
        ([(0, {"soc_pct": 1.0}, 0.0), *[(t, {}, -50.0) for t in range(36, 3601, 36)]], 0.0),
        ([(0, {}, 0.0), (10, {}, None), (20, {}, -36.0)], 49.9),  # unknown current skipped
    ],
)
def test_integration_and_clamp(steps: list, charge_ah: float) -> None:
    assert run(steps).charge_ah == pytest.approx(charge_ah, abs=1e-6)


FULL_CELLS = cells(16, 3.40, c4=3.46)


@pytest.mark.parametrize(
    ("changes", "current", "hold", "synced"),
    [
        ({"cells": FULL_CELLS}, 2.0, 30, True),  # high cell, tail current 2 A < 4 A
        ({"cells": FULL_CELLS}, 2.0, 29, False),  # not held long enough
        ({"cells": FULL_CELLS}, 10.0, 60, False),  # still charging hard
        ({"cells": cells(16, 3.40)}, 1.0, 60, False),  # not at the full level
    ],
)
def test_resync_full(changes: dict, current: float, hold: float, synced: bool) -> None:
    state = run([(0, {}, 0.0), (1, changes, current), (1 + hold, changes, current)])
    assert (state.charge_ah == 100.0) is synced
    assert state.syncs_full == (1 if synced else 0)


def test_resync_full_by_pack_voltage() -> None:
    cfg = CoulombConfig(full_cell_voltage=None, full_pack_voltage=55.0, tail_current_a=1.0)
    high = {"cells": (), "voltage_v": 55.1}
    state = run([(0, {}, 0.0), (1, high, 0.5), (31, high, 0.5)], cfg)
    assert state.charge_ah == 100.0


@pytest.mark.parametrize(("hold", "synced"), [(60, True), (59, False)])
def test_resync_empty(hold: float, synced: bool) -> None:
    low = {"cells": cells(16, 3.1, c9=2.85)}
    state = run([(0, {}, 0.0), (1, low, -1.0), (1 + hold, low, -1.0)])
    assert (state.charge_ah == 0.0) is synced


def test_state_roundtrip_and_apply() -> None:
    state = run([(0, {}, 0.0), (36, {}, -10.0)])
    again = CoulombState.from_json(state.to_json())
    assert again == state
    assert CoulombState.from_json({"charge_ah": 5.0, "bogus": 1}).charge_ah == 5.0
    assert CoulombState.from_json(None) == CoulombState()
    assert CoulombState.from_json({"charge_ah": "x"}) == CoulombState()
    s = apply_coulomb(sample(soc_pct=50.0), state)
    assert s.soc_pct == pytest.approx(49.9) and s.extra["bms_soc"] == 50.0


def test_configured_capacity_wins() -> None:
    cfg = CoulombConfig(capacity_ah=200.0)
    state = run([(0, {"soc_pct": 50.0}, 0.0)], cfg)
    assert (state.capacity_ah, state.charge_ah) == (200.0, 100.0)
