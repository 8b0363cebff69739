"""Periodic SoC-reset charge: CVL at cells × reset voltage every N days until absorbed."""

from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.core.bank import STATE_FILE, BankEngine
from batmux.core.bank_config import LimitsConfig
from batmux.core.cvl import DAY_S, CvlState, compute_cvl
from batmux.core.limits import LimitState, battery_limits
from batmux.core.statefile import load_json
from batmux.model.state import BatteryState
from core.bank_factory import cells, sample, state

CFG = LimitsConfig(soc_reset_after_days=30, soc_reset_cell_voltage=3.65)
T0 = 1_700_000_000.0  # a real epoch: the timer counts wall-clock days
RESET = cells(16, 3.65)  # 58.4 V, balanced


def test_cvl_walks_through_a_reset_on_the_day_boundary() -> None:
    state = CvlState(soc_reset_last=T0)  # the last reset completed at T0
    done = T0 + 30 * DAY_S + 10 + 900
    steps = [
        # (time, cells, soc, expected rule, expected CVL in V)
        (T0 + 1, cells(16, 3.40), 90, "bulk", 55.2),
        (T0 + 30 * DAY_S - 1, cells(16, 3.40), 90, "bulk", 55.2),  # one second before the day
        (T0 + 30 * DAY_S, cells(16, 3.40), 90, "soc_reset", 58.4),  # 16 × 3.65, no ramp up
        (T0 + 30 * DAY_S + 5, cells(16, 3.60), 97, "soc_reset", 58.4),  # 57.6 V: still bulk
        (T0 + 30 * DAY_S + 10, RESET, 99, "soc_reset", 58.4),  # absorption starts
        (done - 1, RESET, 100, "soc_reset", 58.4),  # 899 s absorbed
        (done, RESET, 100, "float", 55.2),  # 900 s: done, back to 16 × 3.45 at once
        (done + 100, cells(16, 3.40), 100, "float", 55.1),  # then to float at 0.001 V/s
        (done + 30 * DAY_S - 1, cells(16, 3.35), 95, "float", 54.0),  # cells × 3.375
        (done + 30 * DAY_S, cells(16, 3.35), 95, "soc_reset", 58.4),  # float ends for a reset
    ]
    for t, cell_v, soc, rule, cvl in steps:
        found, found_rule = compute_cvl(CFG, sample(cells=cell_v, soc_pct=soc), 16, state, t)
        assert (found_rule, found) == (rule, pytest.approx(cvl)), t - T0
        assert state.soc_reset_done == (t == done), t - T0
    assert state.soc_reset_last == done + 0  # unchanged by the second request


@pytest.mark.parametrize(
    ("last", "now", "active"),
    [
        (None, T0, True),  # never done: at once, like dbus-serialbattery
        (T0, T0 + 7 * DAY_S - 1, False),
        (T0, T0 + 7 * DAY_S, True),
        (T0, T0 + 8 * DAY_S, True),
    ],
)
def test_reset_is_due_every_n_days(last: float | None, now: float, active: bool) -> None:
    cfg = LimitsConfig(soc_reset_after_days=7)
    state = CvlState(soc_reset_last=last)
    cvl, rule = compute_cvl(cfg, sample(cells=cells(16, 3.30)), 16, state, now)
    assert (cvl, rule) == ((58.4, "soc_reset") if active else (55.2, "bulk"))


def test_off_without_days_even_if_never_done() -> None:
    state = CvlState()
    cvl, rule = compute_cvl(LimitsConfig(), sample(cells=cells(16, 3.30)), 16, state, T0)
    assert (cvl, rule) == (pytest.approx(55.2), "bulk")
    assert not state.soc_reset_active


def test_overshoot_during_reset_is_measured_against_the_reset_voltage() -> None:
    state = CvlState(soc_reset_last=None)
    high = cells(16, 3.60, c3=3.70)  # 0.05 V above 3.65
    cvl, rule = compute_cvl(CFG, sample(cells=high), 16, state, T0)
    assert cvl == pytest.approx(15 * 3.60 + 3.65)
    assert rule == "soc_reset"


@pytest.mark.parametrize(
    ("cfg", "max_cell", "ccl", "rule"),
    [
        (LimitsConfig(), 3.55, 0.0, "cell_voltage"),  # normal table: 0 A above 3.50 V
        (CFG, 3.55, 50.0, "configured"),  # reset: table moved up 0.20 V → 3.35 V = full
        (CFG, 3.625, 2.5, "cell_voltage"),  # 3.425 V in the table → 5 %
        (CFG, 3.70, 0.0, "cell_voltage"),  # above the reset voltage + 0.05: 0 A
    ],
)
def test_charge_table_moves_up_during_a_reset(
    cfg: LimitsConfig, max_cell: float, ccl: float, rule: str
) -> None:
    state = LimitState()
    s = sample(cells=cells(16, 3.40, c1=max_cell), soc_pct=95)
    result = battery_limits(cfg, s, True, state, T0)
    assert result.limits.charge_current_a == pytest.approx(ccl)
    assert result.charge_rule == rule


def engine_config(tmp_path: Path) -> object:
    return parse_config(
        {
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "a",
                    "type": "jk",
                    "limits": {"soc_reset_after_days": 7, "soc_reset_cell_voltage": 3.65},
                    # no full detection of its own: only the reset brings it to 100 %
                    "coulomb_counter": {"full_cell_voltage": None},
                },
                {"name": "b", "type": "jk"},
            ],
            "groups": [{"name": "bank", "members": ["a", "b"]}],
        }
    )


def run(engine: BankEngine, t: float, cell_v: tuple[float, ...]) -> dict[str, BatteryState]:
    states = {
        "a": state("a", t, cells=cell_v, soc_pct=90.0),
        "b": state("b", t, cells=cells(16, 3.45), soc_pct=99.0),
    }
    return {s.name: s for s in engine.update(states, now=t)}


def reason(out: dict[str, BatteryState], name: str) -> str:
    limits = out[name].limits
    assert limits is not None
    return limits.reason


def test_reset_resyncs_the_counter_and_survives_a_restart(tmp_path: Path) -> None:
    cfg = engine_config(tmp_path)
    engine = BankEngine(cfg)
    out = run(engine, T0, RESET)
    assert reason(out, "a").endswith(" cvl:soc_reset")
    assert out["a"].limits is not None and out["a"].limits.charge_voltage_v == 58.4
    assert reason(out, "b").endswith(" cvl:absorption")  # b has no reset configured
    assert reason(out, "bank").endswith(" cvl:b:absorption")  # parallel: the lowest member
    t = T0
    while t < T0 + 900:
        t += 60
        out = run(engine, t, RESET)
    sample_a = out["a"].sample
    assert sample_a is not None and sample_a.soc_pct == 100.0  # counter was at 90 %
    assert sample_a.extra["bms_soc"] == 90.0
    assert reason(out, "a").endswith(" cvl:float")
    engine.save_state(tmp_path)
    assert load_json(tmp_path / STATE_FILE)["soc_reset"] == {"a": t}

    again = BankEngine(cfg)  # restart
    again.load_state(tmp_path)
    out = run(again, t + DAY_S, cells(16, 3.35))
    assert reason(out, "a").endswith(" cvl:bulk")
    out = run(again, t + 7 * DAY_S - 5, cells(16, 3.35))
    assert reason(out, "a").endswith(" cvl:bulk")
    out = run(again, t + 7 * DAY_S, cells(16, 3.35))
    assert reason(out, "a").endswith(" cvl:soc_reset")

    forgetful = BankEngine(cfg)  # a restart without the state file starts a reset at once
    out = run(forgetful, t + DAY_S, cells(16, 3.35))
    assert reason(out, "a").endswith(" cvl:soc_reset")


def test_a_completed_reset_is_acted_on_once_even_if_the_pack_goes_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = BankEngine(engine_config(tmp_path))
    t = T0
    while "cvl:float" not in reason(out := run(engine, t, RESET), "a"):
        t += 60
        assert t < T0 + 2000
    later = t + 600  # a's last sample is now stale: compute_cvl is skipped for it
    with caplog.at_level("INFO"):
        for step in (0, 1, 2):
            stale = {
                "a": state("a", t, cells=RESET, soc_pct=90.0),
                "b": state("b", later + step, cells=cells(16, 3.45), soc_pct=99.0),
            }
            result = {s.name: s for s in engine.update(stale, now=later + step)}
            assert result["a"].limits is not None and result["a"].limits.reason.endswith("stale")
    assert "SoC-reset" not in caplog.text
    assert out["a"].sample is not None and out["a"].sample.soc_pct == 100.0
