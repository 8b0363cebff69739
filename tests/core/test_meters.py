"""Energy meters: trapezoidal Wh, zero-crossing split, gaps, monotonic counters, cycles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.core.meters import MeterState, split_ramp, update
from batmux.model.sample import BatterySample
from batmux.model.state import Meters

HOUR = 3600.0


def feed(trace: list[tuple[float, float | None, float | None]], max_gap_s: float) -> MeterState:
    """Fold (t, power W, SoC %) points into fresh meters."""
    state = MeterState()
    for t, p, soc in trace:
        update(state, BatterySample(timestamp=t, power_w=p, soc_pct=soc), max_gap_s=max_gap_s)
    return state


def test_trapezoid_gives_exact_wh_for_a_known_trace() -> None:
    # 1 kW flat for half an hour (500 Wh), then a ramp 1 kW → 2 kW over half an hour (750 Wh).
    state = feed([(0, 1000, None), (1800, 1000, None), (3600, 2000, None)], max_gap_s=HOUR)
    assert state.charged_wh == pytest.approx(1250.0)
    assert state.discharged_wh == 0.0
    meters = state.meters()
    assert meters.charged_kwh == pytest.approx(1.25)
    assert meters.net_kwh == pytest.approx(1.25)


def test_discharge_goes_to_its_own_counter() -> None:
    state = feed([(0, -400, None), (900, -800, None), (1800, -800, None)], max_gap_s=HOUR)
    # (400 + 800) / 2 · 0.25 h + 800 · 0.25 h = 150 + 200
    assert state.discharged_wh == pytest.approx(350.0)
    assert state.charged_wh == 0.0
    assert state.meters().net_kwh == pytest.approx(-0.35)


def test_power_derived_from_voltage_and_current_is_integrated() -> None:
    state = MeterState()
    for t in (0.0, 30.0, 60.0):
        update(state, BatterySample(timestamp=t, voltage_v=52.0, current_a=10.0))
    assert state.charged_wh == pytest.approx(520.0 * 60 / HOUR)


@pytest.mark.parametrize(
    ("p0", "p1", "charged", "discharged"),
    [
        # +100 → -300 over one hour crosses zero at 1/4 h: triangles of 12.5 Wh and 112.5 Wh
        (100.0, -300.0, 12.5, 112.5),
        (-300.0, 100.0, 12.5, 112.5),
        (200.0, -200.0, 50.0, 50.0),
        (0.0, -100.0, 0.0, 50.0),
        (100.0, 0.0, 50.0, 0.0),
    ],
)
def test_sign_change_splits_at_the_zero_crossing(
    p0: float, p1: float, charged: float, discharged: float
) -> None:
    state = feed([(0, p0, None), (HOUR, p1, None)], max_gap_s=HOUR)
    assert state.charged_wh == pytest.approx(charged)
    assert state.discharged_wh == pytest.approx(discharged)


def test_gap_longer_than_max_gap_is_not_integrated() -> None:
    state = feed([(0, 1000, None), (120, 1000, None)], max_gap_s=60)
    assert state.charged_wh == 0.0
    # integration resumes from the sample after the gap
    update(state, BatterySample(timestamp=150, power_w=1000), max_gap_s=60)
    assert state.charged_wh == pytest.approx(1000 * 30 / HOUR)
    # exactly max_gap is still integrated
    update(state, BatterySample(timestamp=210, power_w=1000), max_gap_s=60)
    assert state.charged_wh == pytest.approx(1000 * 90 / HOUR)


def test_repeated_or_older_timestamps_add_nothing() -> None:
    state = feed([(100, 500, None), (100, 500, None), (50, 500, None)], max_gap_s=60)
    assert state.charged_wh == 0.0
    update(state, BatterySample(timestamp=110, power_w=500), max_gap_s=60)
    assert state.charged_wh == pytest.approx(500 * 10 / HOUR)  # from t=100, not from t=50


def test_cycles_are_soc_travel_over_200() -> None:
    # 100 → 0 → 100 is one full cycle; then 100 → 80 → 90 adds 30 % travel
    state = feed(
        [(t, None, soc) for t, soc in enumerate([100, 50, 0, 40, 100, 80, 90])], max_gap_s=60
    )
    assert state.soc_travel_pct == pytest.approx(230.0)
    assert state.meters().cycles == pytest.approx(1.15)


def test_samples_without_soc_or_power_leave_the_meters_alone() -> None:
    state = feed([(0, None, 50), (1, None, None), (2, None, 60)], max_gap_s=60)
    assert state.soc_travel_pct == pytest.approx(10.0)
    assert (state.charged_wh, state.discharged_wh) == (0.0, 0.0)


def test_state_json_roundtrip_and_bad_input() -> None:
    state = feed([(0, 1000, 50), (36, 1000, 40)], max_gap_s=60)
    again = MeterState.from_json(state.to_json())
    assert again.to_json() == state.to_json()
    assert again.charged_wh == pytest.approx(10.0)
    assert again.last_t is None  # an integration never spans a restart
    assert MeterState.from_json({"charged_wh": -5, "discharged_wh": "x"}).to_json() == {
        "charged_wh": 0.0,
        "discharged_wh": 0.0,
        "soc_travel_pct": 0.0,
    }
    assert MeterState.from_json(None).to_json()["charged_wh"] == 0.0
    assert MeterState.from_json([1, 2]).to_json()["charged_wh"] == 0.0


def test_meters_json_names() -> None:
    assert Meters(charged_kwh=1.23456, discharged_kwh=0.5, cycles=0.1234).to_json() == {
        "total_charged_kwh": 1.2346,
        "total_discharged_kwh": 0.5,
        "net_kwh": 0.7346,
        "meter_cycles": 0.123,
    }


points = st.lists(
    st.tuples(
        st.floats(0.1, 90.0),  # step to the next sample, s (some beyond max_gap)
        st.floats(-5000.0, 5000.0),  # power, W
        st.floats(0.0, 100.0),  # SoC, %
    ),
    min_size=1,
    max_size=60,
)


@given(points)
def test_counters_only_increase_and_net_is_the_signed_integral(
    trace: list[tuple[float, float, float]],
) -> None:
    state = MeterState()
    t = 0.0
    previous: tuple[float, float, float] | None = None
    signed_wh = 0.0
    before = (0.0, 0.0, 0.0)
    for step, p, soc in trace:
        t += step
        if previous is not None and 0 < (dt := t - previous[0]) <= 60:
            signed_wh += (previous[1] + p) / 2 * dt / HOUR
        update(state, BatterySample(timestamp=t, power_w=p, soc_pct=soc), max_gap_s=60)
        now = (state.charged_wh, state.discharged_wh, state.soc_travel_pct)
        assert all(n >= b for n, b in zip(now, before, strict=True))
        before = now
        previous = (t, p, soc)
    assert state.charged_wh - state.discharged_wh == pytest.approx(signed_wh, abs=1e-6)


# -- steps no real pack can make ----------------------------------------------------------------
# A JK02 capture (shared/vectors/ble/jk02_24s_1): 52.971 V, +2.329 A, 123.369 W, 202 Ah.
JK = {"voltage_v": 52.971, "current_a": 2.329, "capacity_ah": 202.0}


def test_a_power_value_that_disagrees_with_v_times_i_adds_nothing() -> None:
    state = MeterState()
    assert update(state, BatterySample(timestamp=0.0, **JK)) is None
    # one corrupt power value: 15.8 kWh in one second (the JK frame)
    spike = BatterySample(timestamp=1.0, power_w=15_800 * 3600, **JK)
    reason = update(state, spike)
    assert reason is not None and reason.startswith(
        "meter step of 7900.0 Wh in 1 s refused: |V·I| allows 0.04 Wh"
    )
    # the step out of the spike is refused too; the one after it counts again
    assert update(state, BatterySample(timestamp=2.0, **JK)) is not None
    assert update(state, BatterySample(timestamp=3.0, **JK)) is None
    assert state.charged_wh == pytest.approx(123.369 / HOUR)
    assert state.discharged_wh == 0.0
    assert state.refused == {"energy step beyond |V·I|·dt": 2}


def test_a_current_beyond_the_packs_c_rate_adds_nothing() -> None:
    # 300 kA at the pack's real voltage (what a corrupt current field decodes to): |V·I| agrees
    # with the power, but no 202 Ah pack carries more than 10 C
    state = MeterState()
    update(state, BatterySample(timestamp=0.0, **JK))
    huge = BatterySample(timestamp=1.0, **{**JK, "current_a": 300_000.0})
    assert update(state, huge) is not None
    assert state.charged_wh == 0.0


def test_a_real_load_step_is_counted() -> None:
    # idle to a 100 A discharge between two samples: a real step, within |V·I| at both ends
    state = MeterState()
    update(state, BatterySample(timestamp=0.0, **JK))
    assert update(state, BatterySample(timestamp=1.0, **{**JK, "current_a": -100.0})) is None
    charged, discharged = split_ramp(123.369, -5297.1, 1.0)
    assert state.charged_wh == pytest.approx(charged)
    assert state.discharged_wh == pytest.approx(discharged)
    assert not state.refused
