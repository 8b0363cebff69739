import pytest

from batmux.core.bank_config import LimitsConfig
from batmux.core.cvl import CvlState, compute_cvl, penalty_cvl
from core.bank_factory import cells, sample

CFG = LimitsConfig()
FULL = cells(16, 3.45)  # 55.2 V, spread 0


@pytest.mark.parametrize(
    ("cell_v", "expected"),
    [
        (cells(16, 3.40), None),
        (cells(16, 3.45), None),  # at max is not above max
        (cells(16, 3.40, c5=3.60), 15 * 3.40 + 3.60 - 0.15),  # one high cell
        (cells(16, 3.40, c5=3.60, c9=3.50), 14 * 3.40 + 3.60 + 3.50 - 0.15 - 0.05),
    ],
)
def test_penalty_sum(cell_v: tuple[float, ...], expected: float | None) -> None:
    found = penalty_cvl(cell_v, 3.45)
    assert found == (None if expected is None else pytest.approx(expected))


def test_one_high_cell_lowers_cvl_at_once_and_recovers_after_hold_and_ramp() -> None:
    state = CvlState()
    cvl, rule = compute_cvl(CFG, sample(cells=cells(16, 3.40)), 16, state, 0.0)
    assert (cvl, rule) == (pytest.approx(55.2), "bulk")
    high = cells(16, 3.40, c5=3.60)
    cvl, rule = compute_cvl(CFG, sample(cells=high), 16, state, 1.0)
    assert cvl == pytest.approx(15 * 3.40 + 3.45)  # 54.45: the high cell pulled back to max
    assert rule == "cell_overvoltage"
    # the cell falls back: CVL is held 60 s, then rises at 0.001 V/s
    normal = cells(16, 3.40)
    cvl, _ = compute_cvl(CFG, sample(cells=normal), 16, state, 2.0)
    assert cvl == pytest.approx(54.45)
    cvl, _ = compute_cvl(CFG, sample(cells=normal), 16, state, 61.0)
    assert cvl == pytest.approx(54.45)
    cvl, _ = compute_cvl(CFG, sample(cells=normal), 16, state, 162.0)
    assert cvl == pytest.approx(54.45 + 0.1)
    cvl, rule = compute_cvl(CFG, sample(cells=normal), 16, state, 2000.0)
    assert (cvl, rule) == (pytest.approx(55.2), "bulk")


def test_penalty_is_clamped_to_cells_times_min() -> None:
    state = CvlState()
    wild = cells(4, 2.0, c1=5.0)  # sum 11 - 1.55 overshoot → below 4 × 2.9
    cvl, _ = compute_cvl(CFG, sample(cells=wild), 4, state, 0.0)
    assert cvl == pytest.approx(4 * 2.90)


def test_absorption_float_bulk_by_soc() -> None:
    state = CvlState()
    t = 0.0
    steps = [
        # (dt, cells, soc, expected mode, expected cvl or None)
        (0, cells(16, 3.40), 90, "bulk", 55.2),
        (10, FULL, 99, "absorption", 55.2),
        (899, FULL, 99, "absorption", 55.2),
        (1, FULL, 100, "float", 55.2),  # 900 s held at CVL with spread 0
        (100, cells(16, 3.40), 100, "float", 55.1),  # ramps down at 0.001 V/s
        (10000, cells(16, 3.35), 95, "float", 54.0),  # reaches cells × 3.375
        (10, cells(16, 3.30), 81, "float", 54.0),
        (10, cells(16, 3.30), 79, "bulk", 55.2),  # SoC below 80 % → back to bulk
    ]
    for dt, cell_v, soc, mode, cvl in steps:
        t += dt
        found, rule = compute_cvl(CFG, sample(cells=cell_v, soc_pct=soc), 16, state, t)
        assert (state.mode, rule) == (mode, mode), t
        assert found == pytest.approx(cvl), t


def test_absorption_timer_restarts_when_spread_opens() -> None:
    state = CvlState()
    compute_cvl(CFG, sample(cells=FULL), 16, state, 0.0)
    wide = cells(16, 3.445, c1=3.43)  # 15 mV spread
    compute_cvl(CFG, sample(cells=wide), 16, state, 500.0)
    assert state.mode == "bulk"
    compute_cvl(CFG, sample(cells=FULL), 16, state, 501.0)
    compute_cvl(CFG, sample(cells=FULL), 16, state, 1300.0)
    assert state.mode == "absorption"  # only 799 s since the restart
    compute_cvl(CFG, sample(cells=FULL), 16, state, 1401.0)
    assert state.mode == "float"


def test_float_back_to_bulk_on_spread() -> None:
    state = CvlState(mode="float", float_cvl=54.0, last_t=0.0)
    _, rule = compute_cvl(CFG, sample(cells=cells(16, 3.35, c2=3.42), soc_pct=99), 16, state, 1)
    assert rule == "float"  # 70 mV
    _, rule = compute_cvl(CFG, sample(cells=cells(16, 3.33, c2=3.42), soc_pct=99), 16, state, 2)
    assert rule == "bulk"  # 90 mV > 80 mV
