"""The benchmark's claim on a short stretch of the simulated day (the full day: bench/)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_netzero import run_day


def test_batmux_exports_half_of_the_field_loop_with_less_import_and_fewer_commands() -> None:
    # 17:00-19:00: kettle, oven thermostat cycling, microwave, fridge, evening load
    field = run_day("field", seed=1, hours=2.0, start_h=17.0)
    ours = run_day("batmux", seed=1, hours=2.0, start_h=17.0)
    assert ours.exported_wh <= field.exported_wh / 2
    assert ours.imported_above_target_wh <= field.imported_above_target_wh
    assert ours.commands <= field.commands
    assert ours.delivered_wh > 0.9 * field.delivered_wh
