"""Samples per minute of every BLE family when a share of its frames arrives corrupted.

    uv run python bench/bench_noisy_radio.py [--seconds 60] [--seeds 3] [--rates 0,0.05,0.1,0.3]

Each family's registered driver and codec read its simulator through ``SimPeripheral`` with
``corrupt_rate`` (one byte of a frame flipped at that probability) inside the real
``BleSource``, paced like the gateway at its default 1 s sample period with the default 10 s
timeout (tests/noisy_radio.py). Every family × rate × seed runs at once, so the whole table
takes ``--seconds``. Prints a markdown table: good samples per minute (summed over the seeds,
divided by their number) and the share of the clean rate; then how many good samples
disagreed with the simulated pack (cell count, SoC), since a retry that pieces an answer
together from several must not piece it wrongly. Victron SmartShunt is read with GATT reads,
which the simulator does not corrupt: its row shows the harness, not a retry path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from noisy_radio import FAMILIES, Run, measure


def per_minute(runs: list[Run], family: str, rate: float) -> float:
    mine = [r for r in runs if r.family == family and r.corrupt_rate == rate]
    return sum(r.per_minute for r in mine) / len(mine)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rates", default="0,0.05,0.1,0.3")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    logging.disable(logging.WARNING)  # reconnect warnings of the 30 % runs are expected
    runs = list(
        await asyncio.gather(
            *(
                measure(family, rate, args.seconds, 1.0, seed)
                for family in FAMILIES
                for rate in rates
                for seed in range(1, args.seeds + 1)
            )
        )
    )
    head = " | ".join(f"{r:.0%} /min" for r in rates)
    share = " | ".join(f"{r:.0%} vs clean" for r in rates[1:])
    print(f"| family | {head} | {share} |")
    print("|---" * (1 + 2 * len(rates) - 1) + "|")
    for family in FAMILIES:
        values = [per_minute(runs, family, r) for r in rates]
        clean = values[0] or float("nan")
        cells = " | ".join(f"{v:.1f}" for v in values)
        shares = " | ".join(f"{v / clean:.0%}" for v in values[1:])
        print(f"| {family} | {cells} | {shares} |", flush=True)
    wrong = sum(r.wrong for r in runs)
    print(f"\ngood samples that disagree with the simulated pack (cells, SoC): {wrong}")


if __name__ == "__main__":
    asyncio.run(main())
