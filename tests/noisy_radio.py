"""Sample rate of one BLE family over a noisy simulated radio, paced like the gateway.

Shared by the fast test (tests/devices/test_noisy_radio.py) and the benchmark
(bench/bench_noisy_radio.py). A family's registered driver and codec read its simulator through
``SimPeripheral`` with ``corrupt_rate`` (one byte of a frame flipped at that probability) and
``seed``, wrapped in the real ``BleSource`` (its backoff included). The loop is the gateway's:
one ``sample()`` per period, bounded like ``Gateway.sample_once`` (timeout × 2 + 1), a slot that
is overrun is skipped. Everything is scaled by ``period``: latency, backoff base and timeout,
so a 0.05 s period shows in seconds what a 1 s period shows in a minute.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from batmux.devices.ble_source import Backoff, BleSource
from batmux.devices.registry import get_type, load
from batmux.errors import BatmuxError
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimPeripheral

# One type per driver family (jk02_24s / jk02_32s share the JK driver).
FAMILIES = ("jk", "jbd", "daly", "daly_modbus", "ant", "supervolt", "sok", "victron_smartshunt")
CELLS = 16
NO_CELLS = {"victron_smartshunt"}  # a shunt, not a BMS


@dataclass(frozen=True, slots=True)
class Run:
    family: str
    corrupt_rate: float
    attempts: int
    samples: int
    seconds: float
    corrupt_frames: int
    wrong: int  # good samples that disagree with the simulated pack (cell count, SoC)

    @property
    def per_minute(self) -> float:
        return 60.0 * self.samples / self.seconds


def build(family: str, corrupt_rate: float, seed: int, period: float) -> BleSource:
    device_type = get_type(family)
    assert device_type.sim and device_type.driver and device_type.codec
    battery = SimBattery(cells=CELLS, soc_pct=55.0, current_a=-8.0, seed=seed)
    link = SimPeripheral(
        load(device_type.sim)(battery),
        address=f"sim:{family}",
        latency_s=period / 50,
        chunk_gap_s=period / 500,
        corrupt_rate=corrupt_rate,
        seed=seed,
    )
    driver_cls = load(device_type.driver)
    if family == "victron_smartshunt":  # connected mode brings its own GATT codec
        driver = driver_cls(link)
    else:
        driver = driver_cls(link, load(device_type.codec)())
    return BleSource(
        family,
        driver,
        timeout_s=10 * period,  # the default 10 s at a 1 s period
        sample_period_s=period,
        backoff=Backoff(base_s=period, cap_s=60 * period, rng=random.Random(seed)),
    )


async def measure(
    family: str, corrupt_rate: float, seconds: float, period: float = 1.0, seed: int = 1
) -> Run:
    source = build(family, corrupt_rate, seed, period)
    loop = asyncio.get_running_loop()
    start = next_at = loop.time()
    attempts = samples = wrong = 0
    try:
        while loop.time() - start < seconds:
            attempts += 1
            try:
                async with asyncio.timeout(source.timeout_s * 2 + period):
                    sample = await source.sample()
                samples += 1
                cells = 0 if family in NO_CELLS else CELLS
                wrong += len(sample.cell_voltages_v) != cells or abs(sample.soc_pct - 55.0) > 1
            except (BatmuxError, TimeoutError):
                pass
            next_at += period
            delay = next_at - loop.time()
            if delay < 0:  # overran: skip the missed slots, as the gateway does
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)
    finally:
        await source.close()
    return Run(family, corrupt_rate, attempts, samples, loop.time() - start,
               source.health.corrupt_frames, wrong)  # fmt: skip
