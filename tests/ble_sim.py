"""Driver ⇄ simulator round trip shared by the BLE family tests (real codec on both sides)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from batmux.devices.ble_driver import BleDriver
from batmux.errors import BatmuxError
from batmux.model.sample import BatterySample
from batmux.protocols.base import Codec
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice, SimPeripheral

CLOCK = 1_700_000_000.0


def battery(cells: int = 16, current: float = -12.3, soc: float = 55.0) -> SimBattery:
    return SimBattery(
        cells=cells, capacity_ah=100.0, soc_pct=soc, current_a=current, clock=lambda: CLOCK
    )


async def connect(
    driver_cls: type[BleDriver], codec_cls: type[Codec], device: SimDevice, allow: bool = False
) -> tuple[BleDriver, SimPeripheral]:
    link = SimPeripheral(device, latency_s=0.001, chunk_gap_s=0.0)
    driver = driver_cls(link, codec_cls(), allow_control=allow)
    await link.connect()
    await driver.start()
    return driver, link


def assert_matches(sample: BatterySample, truth: BatterySample, resolution: dict[str, float],
                   fields: tuple[str, ...]) -> None:  # fmt: skip
    """``fields`` equal the truth, numbers within the protocol's ``resolution`` (default exact)."""
    for field in fields:
        got, want = getattr(sample, field), getattr(truth, field)
        step = resolution.get(field, 0.0)
        if isinstance(want, tuple):
            assert len(got) == len(want), field
            assert all(abs(g - w) <= step / 2 + 1e-9 for g, w in zip(got, want, strict=True)), field
        elif isinstance(want, float | int) and not isinstance(want, bool):
            assert abs(got - want) <= step / 2 + 1e-9, (field, got, want)
        else:
            assert got == want, (field, got, want)


COMMON = ("voltage_v", "current_a", "soc_pct", "charge_ah", "cell_voltages_v", "temperatures_c",
          "charge_enabled", "discharge_enabled", "balancing")  # fmt: skip


async def sample_until_ok(source: Any, within_s: float = 5.0) -> BatterySample:
    """The source's first good sample, retrying its errors for ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await source.sample()
        except BatmuxError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
