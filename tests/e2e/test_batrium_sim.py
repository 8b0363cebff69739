"""A simulated Batrium WatchMon on python-can's virtual bus, read by the real source:
29-bit ids at the WatchMon's periods, a configurable base id, 11-bit look-alikes ignored."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.devices.batrium import BatriumSource
from batmux.errors import NoData
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.model.sample import BatterySample
from batmux.protocols import batrium as b
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.batrium import BatriumSimDevice, run_batrium
from batmux.sim.battery import SimBattery


@contextlib.asynccontextmanager
async def running(coro: object) -> AsyncIterator[None]:
    task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def first_sample(source: BatriumSource, timeout: float = 3.0) -> BatterySample:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(NoData):
                return await source.sample()
            await asyncio.sleep(0.05)


def bus(name: str) -> CanBusConfig:
    return CanBusConfig(interface="virtual", channel=f"batrium-test-{name}")


async def test_frames_are_29_bit_at_the_watchmon_periods() -> None:
    cfg = bus("periods")
    device = BatriumSimDevice(SimBattery(cells=16, soc_pct=70.0, current_a=-10.0))
    seen: Counter[tuple[int, bool]] = Counter()
    async with CanLink(cfg) as listener, running(run_batrium(device, CanLink(cfg))):
        loop = asyncio.get_running_loop()
        end = loop.time() + 2.05
        while (left := end - loop.time()) > 0:
            frame = await listener.recv_flagged(left)
            if frame is not None:
                seen[(frame[0] - b.DEFAULT_BASE_ID, frame[2])] += 1
    assert all(extended for _, extended in seen), seen
    per_offset = {offset: n for (offset, _), n in seen.items()}
    for offset in (b.CELLS, b.SHUNT, b.TARGETS, b.FLAGS):  # 100 ms
        assert 18 <= per_offset[offset] <= 22, (offset, per_offset)
    for offset in (b.TEMPS, b.BYPASS, b.STATE):  # 1 s
        assert 2 <= per_offset[offset] <= 3, (offset, per_offset)
    assert per_offset[b.VERSION] == 1  # 10 s: once, at start


async def test_source_reads_the_sim_and_drops_impostors_and_short_frames() -> None:
    cfg = bus("impostor")
    battery = SimBattery(cells=16, soc_pct=55.0, current_a=8.0)
    source = BatriumSource("wm", b.BatriumCodec(), CanLink(cfg), fresh_s=2.0)

    async def impostor() -> None:  # an 11-bit 0x504 (99.9 V) and a cut 29-bit one
        async with CanLink(cfg) as link:
            while True:
                await link.send(0x504, bytes.fromhex("E70300000000"), extended=False)
                await link.send(0x504, b"\xe7\x03", extended=True)  # truncated: corrupt
                await asyncio.sleep(0.02)

    try:
        await source.link.open()
        device = BatriumSimDevice(battery)
        async with running(run_batrium(device, CanLink(cfg))), running(impostor()):
            await asyncio.sleep(0.5)
            sample = await first_sample(source)
        assert sample.current_a == pytest.approx(8.0)
        assert 16 * 3.25 < (sample.voltage_v or 0) < 16 * 3.4
        assert sample.soc_pct == pytest.approx(55.0, abs=0.1)
        status = source.status()
        assert status["standard_id_frames"] > 5
        assert status["corrupt_frames"] > 5 and "0x504" in source.health.last_error
    finally:
        await source.close()


async def test_a_silent_watchmon_goes_stale() -> None:
    cfg = bus("stale")
    source = BatriumSource("wm", b.BatriumCodec(), CanLink(cfg), fresh_s=0.5)
    try:
        await source.link.open()
        device = BatriumSimDevice(SimBattery(cells=16))
        async with running(run_batrium(device, CanLink(cfg))):
            await first_sample(source)
        await asyncio.sleep(0.7)
        with pytest.raises(NoData):
            await source.sample()
    finally:
        await source.close()


@pytest.mark.parametrize("base_id", [0x500, 0x18FF0000])
async def test_address_sim_through_the_gateway(tmp_path: Path, base_id: int) -> None:
    config = parse_config(
        {
            "sample_period": 0.3,
            "publish_period": 0.5,
            "state_dir": str(tmp_path),
            "batteries": [
                {
                    "name": "wm",
                    "type": "batrium",
                    "address": "sim",
                    "batrium": {"base_id": base_id},
                    "sim": {"cells": 16, "capacity_ah": 200, "soc": 70, "current": -10},
                }
            ],
        }
    )
    gateway = Gateway(config)
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        state = None
        for _ in range(60):
            await asyncio.sleep(0.1)
            state = gateway.hub.latest("wm")
            if state is not None and state.sample is not None:
                break
        assert state is not None and state.sample is not None and state.available
        s = state.sample
        assert s.current_a == pytest.approx(-10.0)
        assert s.soc_pct == pytest.approx(70.0, abs=0.1) and s.capacity_ah == 200.0
        assert s.extra["charge_voltage_limit"] == pytest.approx(16 * 3.55, abs=0.1)
        assert s.extra["discharge_current_limit"] == pytest.approx(200.0)
        assert gateway.batteries["wm"].health.corrupt_frames == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_real_bus_or_no_address_is_never_simulated() -> None:
    from batmux.devices.batrium import create_source

    config = parse_config(
        {
            "batteries": [
                {"name": "a", "type": "batrium", "can": {"interface": "virtual", "channel": "x"}},
                {"name": "b", "type": "batrium"},
            ]
        }
    )
    for battery in config.batteries:
        assert not hasattr(create_source(battery), "background")


async def test_a_candump_log_replays_with_its_29_bit_ids(tmp_path: Path) -> None:
    """``batmux replay``'s sender keeps a log line's id width: 8 hex digits go out 29-bit."""
    from batmux.links.can_replay import replay

    peer = Path(__file__).parents[1] / "vectors" / "peers" / "batrium"
    frames = json.loads((peer / "batrium2goodwe_layout_handbuilt.json").read_text())["frames"]
    lines = [f"({1700000000 + i / 10:.6f}) can0 {f}" for i, f in enumerate(frames)]
    lines.append("(1700000001.000000) can0 504#E70300000000")  # 11-bit: not Batrium's
    log = tmp_path / "watchmon.log"
    log.write_text("\n".join(lines) + "\n")
    cfg = bus("replay")
    source = BatriumSource("wm", b.BatriumCodec(), CanLink(cfg), fresh_s=5.0)
    try:
        await source.link.open()
        async with CanLink(cfg) as sender:
            result = await replay(log, sender, speed=0)
        assert result.frames == 9
        sample = await first_sample(source)
        assert sample.voltage_v == 53.2 and sample.soc_pct == 77.0
        assert source.status()["standard_id_frames"] == 1
    finally:
        await source.close()
