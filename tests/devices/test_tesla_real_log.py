"""A real public Tesla log (a 2019 Model 3 on its vehicle bus, SavvyCAN CSV, see
tests/vectors/logs/SOURCES.md) through the reader: every sample plausible, the pack voltage
equal to 96 bricks between the min and max brick, and the same through ``replay`` on a bus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from batmux.core.plausibility import check_plausible
from batmux.devices.can_source import CanSource
from batmux.links.can_bus import CanLink
from batmux.links.can_replay import replay
from batmux.model.sample import BatterySample
from batmux.protocols.can_logs import records
from batmux.protocols.tesla_model3 import TeslaModel3Codec
from sinks.can_bus_helpers import channel

LOG = Path(__file__).parents[1] / "vectors" / "logs" / "tesla_model3_2019m3rhd_openccs.csv"
BRICKS = 96  # a 2019 Model 3 Long Range: 96 NCA bricks in series


def samples() -> list[BatterySample]:
    """One sample after every 0x132 frame once the status frames came (as a source samples)."""
    codec = TeslaModel3Codec()
    frames: list[bytes] = []
    seen: set[int] = set()
    out = []
    with LOG.open() as lines:
        for record in records(lines):
            frames += codec.feed(record.frame)
            seen.add(record.arbitration_id)
            if record.arbitration_id == 0x132 and {0x212, 0x332, 0x292} <= seen:
                out.append(codec.decode(frames[-400:], record.timestamp or 0.0))
    assert codec.corrupt_frames == 0
    return out


def test_every_sample_of_the_real_log_is_plausible() -> None:
    got = samples()
    assert len(got) > 500
    for sample in got:
        check_plausible(sample)
        extra = sample.extra
        low, high = float(extra["cell_min"]), float(extra["cell_max"])  # type: ignore[arg-type]
        assert sample.voltage_v is not None
        assert BRICKS * low - 1.0 <= sample.voltage_v <= BRICKS * high + 1.0
        assert 0 <= (sample.soc_pct or -1) <= 100
        assert extra["contactor"] == "closed" and extra.get("hvil_ok") in (None, True)
        # this car's 0x352 fits neither known layout: no energy rather than a wrong one
        assert "energy_full_kwh" not in extra
    last = got[-1]
    assert last.voltage_v == pytest.approx(370.25) and last.soc_pct == pytest.approx(59.3)


async def test_replay_of_the_real_log_through_the_source() -> None:
    cfg = channel()
    source = CanSource("tesla", TeslaModel3Codec(), CanLink(cfg), fresh_s=5)
    try:
        await source.link.open()
        async with CanLink(cfg) as bus:
            result = await replay(LOG, bus, speed=0)
        assert result.frames == 1160 and result.skipped_lines == 0
        await asyncio.sleep(0.3)
        sample = await source.sample()
        check_plausible(sample)
        assert sample.voltage_v == samples()[-1].voltage_v
        assert sample.extra["contactor"] == "closed"
    finally:
        await source.close()
