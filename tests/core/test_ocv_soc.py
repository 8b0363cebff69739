"""The shunt SoC fallback: counter SoC, corrected from the resting voltage (table-driven)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.core.ocv_soc import (
    LFP_REST_CURVE,
    OcvCurve,
    RestDetector,
    SocFallback,
    SocFallbackRule,
)

CURVE = OcvCurve()
RULE = SocFallbackRule(cells=16, rest_s=1800.0, rest_current_a=1.0, max_drift_pct=10.0)


@pytest.mark.parametrize(
    ("cell_v", "soc"),
    [(2.0, 0.0), (2.5, 0.0), (3.2, 10.0), (3.3, 50.0), (3.305, 55.0), (3.6, 100.0), (4.0, 100.0)],
)
def test_curve_interpolates_and_clamps(cell_v: float, soc: float) -> None:
    assert CURVE.soc(cell_v) == pytest.approx(soc)


@pytest.mark.parametrize(
    ("cell_v", "at_most", "at_least"),
    [(3.30, 25.0, 15.0), (3.10, 2.0, 0.5), (3.45, 2.0, 0.1)],  # plateau wide, knees narrow
)
def test_ambiguity_is_wide_on_the_plateau_and_narrow_on_the_knees(
    cell_v: float, at_most: float, at_least: float
) -> None:
    assert at_least <= CURVE.ambiguity(cell_v, 0.02) <= at_most


@pytest.mark.parametrize(
    "points",
    [((3.0, 0.0),), ((3.3, 0.0), (3.2, 100.0)), ((3.0, 50.0), (3.3, 10.0)), ((3.0, 0), (3.0, 1))],
)
def test_bad_curves_are_refused(points: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ValueError):
        OcvCurve(points)


@pytest.mark.parametrize(
    ("steps", "rested_for"),
    [
        ([(0, 0.5), (100, 0.2), (1800, -0.9)], 1800),
        ([(0, 0.5), (100, 5.0), (1800, 0.0)], 0),  # a load at 100 s restarts the rest
        ([(0, 0.5), (100, None), (200, 0.0)], 0),  # no current reading: not known to rest
        ([(0, -1.0), (60, 1.0)], 60),  # the threshold itself counts as rest
    ],
)
def test_rest_detector(steps: list[tuple[float, float | None]], rested_for: float) -> None:
    rest = RestDetector(1.0)
    got = [rest.update(now, current) for now, current in steps]
    assert got[-1] == rested_for


# (counter SoC, pack V (16 cells), rested?, expected SoC, expected source)
CASES = [
    (50.0, 16 * 3.30, False, 50.0, "counter"),  # under load: the counter, always
    (75.0, 16 * 3.30, True, 75.0, "counter"),  # plateau: 25 % off is within 10 + ~20 %
    (95.0, 16 * 3.30, True, 50.0, "ocv"),  # plateau, 45 % off: drifted
    (30.0, 16 * 3.10, True, 4.5, "ocv"),  # lower knee: 25 % off is far beyond 10 + ~1 %
    (12.0, 16 * 3.10, True, 12.0, "counter"),  # lower knee: 7.5 % off is within the limit
    (80.0, 16 * 3.45, True, 99.0, "ocv"),  # upper knee: the counter lost 19 %
    (None, 16 * 3.20, True, 10.0, "ocv"),  # no capacity known: the curve alone
    (None, 16 * 3.20, False, None, "counter"),  # … and nothing while under load
]


@pytest.mark.parametrize(("counter", "volts", "rested", "soc", "source"), CASES)
def test_fallback_rule(
    counter: float | None, volts: float, rested: bool, soc: float | None, source: str
) -> None:
    fallback = SocFallback(RULE)
    current = 0.0 if rested else -20.0
    fallback.update(0.0, volts, current, counter)
    d = fallback.update(RULE.rest_s if rested else 10.0, volts, current, counter)
    assert d.source == source
    assert d.soc_pct == (None if soc is None else pytest.approx(soc, abs=0.01))
    assert d.counter_soc_pct == counter
    assert (d.ocv_soc_pct is not None) == rested


def test_the_correction_is_kept_as_an_offset_until_the_next_rest() -> None:
    fallback = SocFallback(RULE)
    fallback.update(0.0, 16 * 3.10, 0.0, 30.0)
    corrected = fallback.update(1800.0, 16 * 3.10, 0.0, 30.0)
    assert corrected.soc_pct == pytest.approx(4.5) and fallback.corrections == 1
    # charging moves the counter by 20 %; the corrected SoC follows it
    later = fallback.update(2000.0, 16 * 3.30, 50.0, 50.0)
    assert later.soc_pct == pytest.approx(24.5) and later.source == "ocv"
    assert later.offset_pct == pytest.approx(-25.5) and later.ocv_soc_pct is None
    # a new rest on the plateau agrees within the limit: the offset stays
    fallback.update(2100.0, 16 * 3.27, 0.0, 50.0)
    rested = fallback.update(3900.0, 16 * 3.27, 0.0, 50.0)
    assert rested.soc_pct == pytest.approx(24.5) and fallback.corrections == 1


@pytest.mark.parametrize(("counter", "soc"), [(120.0, 100.0), (-5.0, 0.0), (33.333, 33.33)])
def test_soc_is_clamped_and_rounded(counter: float, soc: float) -> None:
    assert SocFallback(RULE).update(0.0, 16 * 3.3, -20.0, counter).soc_pct == soc


def test_default_curve_is_lfp() -> None:
    assert CURVE.points == LFP_REST_CURVE and LFP_REST_CURVE[0] == (2.50, 0.0)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 10_000),  # seconds since the last step
            st.floats(0, 80),  # pack volts (16 cells)
            st.one_of(st.none(), st.floats(-300, 300)),
            st.one_of(st.none(), st.floats(-20, 120)),
        ),
        max_size=20,
    )
)
def test_fuzz_the_soc_stays_within_0_and_100(
    steps: list[tuple[float, float, float | None, float | None]],
) -> None:
    fallback, now = SocFallback(RULE), 0.0
    for dt, volts, current, counter in steps:
        now += dt
        d = fallback.update(now, volts, current, counter)
        assert d.soc_pct is None or 0.0 <= d.soc_pct <= 100.0
        assert d.soc_pct is not None or counter is None
