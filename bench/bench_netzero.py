"""Zero export over a simulated day: batmux's controller against the field's loop.

    uv run python bench/bench_netzero.py [--hours 24] [--seeds 1,2,3] [--write]

One seeded house (sim/house.py: base load, fridge, kettle, oven, microwave, washing machine,
noise) and two Hoymiles inverters (600 W + 400 W, HoymilesModel: limits apply 8 s late, readings
off by up to 4 %), a meter read every second, injected time (no sleeping). Both loops drive the
same device model (sim/netzero_inverter.ModelInverter: the field's 1 s TX cycle, 2 s reads, 30 s
confirmation wait). Reported per loop: energy exported, energy imported above the target,
battery energy delivered (inverter AC) and the number of inverter limit commands.
`--write` replaces the "Zero export" section of docs/performance.md with the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from field_netzero import FieldLoop

from batmux.netzero.controller import Controller, InverterSpec, Settings
from batmux.netzero.ports import PowerReading
from batmux.sim.house import House
from batmux.sim.hoymiles import HoymilesModel
from batmux.sim.netzero_inverter import ModelInverter

TARGET_W = 10.0
HYSTERESIS_W = 20.0


@dataclass
class Result:
    loop: str
    exported_wh: float = 0.0
    imported_above_target_wh: float = 0.0
    delivered_wh: float = 0.0
    commands: int = 0

    def add(self, other: Result) -> None:
        self.exported_wh += other.exported_wh
        self.imported_above_target_wh += other.imported_above_target_wh
        self.delivered_wh += other.delivered_wh
        self.commands += other.commands


def inverters(seed: int) -> list[ModelInverter]:
    return [
        ModelInverter("hm600", HoymilesModel(600.0, seed=seed, min_output_w=18.0)),
        ModelInverter("hm400", HoymilesModel(400.0, seed=seed + 100, min_output_w=12.0)),
    ]


def run_day(loop: str, seed: int, hours: float = 24.0, start_h: float = 0.0) -> Result:
    house = House(seed=seed)
    invs = inverters(seed)
    for inv in invs:
        inv.model.limit_percent = 0.0  # both loops start from 0 W
        inv.switch_off = loop == "batmux"  # the field's loop keeps its inverters on (LUT minimum)
    field_loop = FieldLoop(invs, TARGET_W, HYSTERESIS_W, capped_down=loop != "field-uncapped")
    specs = [InverterSpec(i.name, i.max_power_w, i.min_power_w) for i in invs]
    ctl = Controller(Settings(TARGET_W, HYSTERESIS_W), specs)
    result = Result(loop)
    t0 = start_h * 3600
    for k in range(int(hours * 3600)):
        now = t0 + k
        ac = sum(i.model.ac_power_w(now) for i in invs)
        grid = house.grid_w(now, ac)
        result.exported_wh += max(0.0, -grid) / 3600
        result.imported_above_target_wh += max(0.0, grid - TARGET_W) / 3600
        result.delivered_wh += ac / 3600
        if loop == "batmux":
            states = {i.name: i.state() for i in invs}
            plan = ctl.step(now, PowerReading(grid, now), states)
            for inv in invs:
                inv.request(plan.inverters[inv.name])
        else:
            field_loop.on_reading(now, grid)
        for inv in invs:
            inv.tick(now)
    result.commands = sum(i.commands for i in invs)
    return result


def table(results: list[Result], seeds: list[int], hours: float) -> str:
    lines = [
        f"Simulated house, {hours:g} h × {len(seeds)} seeds ({', '.join(map(str, seeds))}), "
        f"target {TARGET_W:g} W, hysteresis {HYSTERESIS_W:g} W, HM-600 + HM-400:",
        "",
        "| loop | exported Wh | imported above target Wh | battery Wh delivered "
        "| inverter commands |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.loop} | {r.exported_wh:.1f} | {r.imported_above_target_wh:.1f} | "
            f"{r.delivered_wh:.0f} | {r.commands} |"
        )
    return "\n".join(lines)


SECTION = "## Zero export: batmux's controller against the field's loop"
NOTES = """\
Target (issue 13): batmux exports at most half of what the field's loop exports, with no more
energy imported above the target and no more inverter commands. **Met**: 12 % of the field's
export, 10 % less import above target, 30 % of its commands.

* `field` is homebattery 1.2.0's loop as restated in §8.1 (second-smallest of a 30 s window,
  maturity 15 s, reductions of at most `power_change_downwards` per step), with the top of the
  documented step ranges (up 200 W, down 50 W), which favours it. `field-uncapped` uses the
  reduction of another homebattery netzero.py variant (the whole `ss − target` at once, no
  cap); batmux also beats it on all three counts.
* Both loops drive the same device model (sim/netzero_inverter.py): a 1 s TX cycle, reads
  every 2 s, a 30 s confirmation wait after each limit, whole-percent limits, a limit applied
  8 s after it was sent, readings off by up to 4 %. Only batmux switches an inverter off at
  0 W (the field keeps it on at its LUT minimum); switch-on/off commands are counted.
* Where batmux's export comes from: a large load stopping (kettle, oven thermostat) while the
  inverter runs; 1 reading + 1 s TX cycle + the inverter's 8 s delay is the floor for a
  reduction on this hardware. The import above target includes, for every loop, the kettle's
  and oven's load beyond the 1000 W the two inverters can give.
* The increase is a trade-off between import, export and commands: taking the robust minimum
  of the last 10 s instead of 30 s (`Settings.up_robust_s`) imports 5 % less (6206 Wh) but
  exports 45 % more (238 Wh) with twice the commands (2735); both meet the target. A step of
  500 W or more held for 10 s (`big_step_w`: kettle, oven) is followed at once: without it the
  loop imported 7 % more (6995 Wh) with 6 % more commands (1359).
* The default suite checks the claim on 17:00–19:00 of seed 1
  (tests/netzero/test_netzero_bench.py)."""


def write_doc(text: str) -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
    body = doc.read_text()
    block = (
        f"{SECTION}\n\n`uv run python bench/bench_netzero.py --write` (bench/bench_netzero.py; "
        "the field's loop as restated in shared/protocols/netzero.md §8.1, bench/field_netzero.py)."
        f"\n\n{text}\n\n{NOTES}\n"
    )
    if SECTION in body:
        head, _, rest = body.partition(SECTION)
        nxt = rest.find("\n## ")
        body = head + block + (rest[nxt:] if nxt >= 0 else "")
    else:
        body = body.rstrip("\n") + "\n\n" + block
    doc.write_text(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    results = []
    for loop in ("field", "field-uncapped", "batmux"):
        total = Result(loop)
        for seed in seeds:
            total.add(run_day(loop, seed, args.hours))
        results.append(total)
    text = table(results, seeds, args.hours)
    print(text)
    print(f"\n({time.perf_counter() - started:.1f} s)")
    if args.write:
        write_doc(text)


if __name__ == "__main__":
    main()
