"""The runtime with simulated devices: failing devices never stall the others, both sampling
modes work, corrupt frames are counted while good samples keep flowing, and implausible samples
are counted and never published."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from batmux.config import Config, parse_config
from batmux.devices.health import Health
from batmux.errors import ControlRefused
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.runtime.app import Gateway
from mqtt_helpers import running

PERIOD = 0.1


def config(tmp_path: Path, batteries: list[dict[str, Any]], **extra: Any) -> Config:
    data: dict[str, Any] = {
        "sample_period": PERIOD,
        "publish_period": 0.3,
        "expire_after": 1.0,
        "state_dir": str(tmp_path),
        "batteries": batteries,
        **extra,
    }
    return parse_config(data, "test.yaml")


class SampleTimes:
    """Watches a device's good-sample counter and notes when each new sample arrived."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self.times: list[float] = []

    async def watch(self, seconds: float) -> None:
        seen = self.health.samples
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.health.samples != seen:
                seen = self.health.samples
                self.times.append(time.monotonic())
            await asyncio.sleep(0.005)

    def max_gap(self) -> float:
        return max(b - a for a, b in zip(self.times, self.times[1:], strict=False))


class HangingDevice:
    """A device that accepts the request and never answers (a test double of a BMS)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = Health()
        self.calls = 0

    async def sample(self) -> BatterySample:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused("test double")


class ScriptedDevice:
    """A device that answers with the given samples in turn (a test double of a BMS)."""

    def __init__(self, name: str, samples: list[BatterySample]) -> None:
        self.name = name
        self.health = Health()
        self.samples = samples
        self.calls = 0

    async def sample(self) -> BatterySample:
        sample = self.samples[self.calls % len(self.samples)]
        self.calls += 1
        self.health.samples += 1
        return sample.with_(timestamp=time.time())

    async def close(self) -> None:
        pass

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused("test double")


async def test_a_dying_device_never_stalls_a_healthy_one(tmp_path: Path) -> None:
    gateway = Gateway(
        config(
            tmp_path,
            [
                {
                    "name": "dies",
                    "type": "jk",
                    "timeout": 0.5,
                    "sim": {"cells": 4, "stop_after": 0.3},
                },
                {"name": "healthy", "type": "jbd", "sim": {"cells": 8, "current": 5.0}},
            ],
        )
    )
    healthy = SampleTimes(gateway.batteries["healthy"].health)
    async with running(gateway):
        await healthy.watch(2.0)
        dies = gateway.batteries["dies"]
        assert dies.failed_rounds > 3 and dies.health.errors > 0
        states = gateway.publish_now_map()
    # ~20 periods in 2 s; the dead neighbour must not slow the healthy one down
    assert len(healthy.times) >= 15
    assert healthy.max_gap() < 3 * PERIOD
    assert states["healthy"].available and states["healthy"].sample is not None
    assert len(states["healthy"].sample.cell_voltages_v) == 8


async def test_a_hanging_device_never_stalls_a_healthy_one(tmp_path: Path) -> None:
    hanging = HangingDevice("hangs")
    gateway = Gateway(
        config(
            tmp_path,
            [
                {"name": "hangs", "type": "jk", "timeout": 0.8},
                {"name": "healthy", "type": "jbd", "sim": {"cells": 4}},
            ],
        ),
        sources={"hangs": hanging},
    )
    healthy = SampleTimes(gateway.batteries["healthy"].health)
    async with running(gateway):
        await healthy.watch(3.0)
    assert hanging.calls >= 2  # every hang is cut off by the gateway's own timeout
    assert gateway.batteries["hangs"].health.timeouts >= 1
    assert len(healthy.times) >= 15
    # A stall behind the hang would leave a gap of a whole timeout (8 periods); 5 periods
    # still tells the two apart on a loaded machine.
    assert healthy.max_gap() < 5 * PERIOD


@pytest.mark.parametrize("concurrent", [True, False])
async def test_concurrent_and_serial_sampling_both_read_every_device(
    tmp_path: Path, concurrent: bool
) -> None:
    gateway = Gateway(
        config(
            tmp_path,
            [
                {"name": "a", "type": "jbd", "sim": {"cells": 4, "current": 10.0}},
                {"name": "b", "type": "daly_modbus", "sim": {"cells": 16, "current": -10.0}},
                {"name": "c", "type": "ant", "sim": {"cells": 8, "soc": 30}},
            ],
            concurrent_sampling=concurrent,
        )
    )
    async with running(gateway):
        await asyncio.sleep(1.2)
        states = gateway.publish_now_map()
    for name, runtime in gateway.batteries.items():
        assert runtime.health.samples >= 8, (name, runtime.health)
        assert states[name].available
    a, b, c = (states[n].sample for n in "abc")
    assert a is not None and b is not None and c is not None
    assert a.current_a == pytest.approx(10.0) and len(a.cell_voltages_v) == 4
    assert b.current_a == pytest.approx(-10.0) and len(b.cell_voltages_v) == 16
    assert c.soc_pct == pytest.approx(30, abs=1) and len(c.cell_voltages_v) == 8
    assert states["a"].meters.charged_kwh > 0 and states["b"].meters.discharged_kwh > 0


async def test_corrupt_frames_are_counted_and_good_samples_keep_flowing(tmp_path: Path) -> None:
    gateway = Gateway(
        config(
            tmp_path,
            [
                {
                    "name": "noisy",
                    "type": "jk",
                    "timeout": 2.0,
                    # seed 2: the one-shot device-info answer arrives intact (a corrupted one
                    # costs a whole timeout before the request is repeated); the streamed
                    # cell-info frames after it are corrupted ~30 % of the time
                    "sim": {"cells": 8, "corrupt_rate": 0.3, "seed": 2},
                }
            ],
        )
    )
    published: list[BatteryState] = []

    async def collect() -> None:
        async for snapshot in gateway.hub.updates():
            published.append(snapshot["noisy"])

    async with running(gateway):
        collector = asyncio.create_task(collect())
        await asyncio.sleep(3.0)
        collector.cancel()
    truth = gateway.batteries["noisy"].source.driver.link.device.battery.truth()  # type: ignore[attr-defined]
    health = gateway.batteries["noisy"].health
    assert health.corrupt_frames > 0
    assert health.samples >= 3  # JK streams a cell frame every 0.5 s
    good = [s for s in published if s.sample is not None]
    assert len(good) >= 3
    timestamps = [s.sample.timestamp for s in good if s.sample is not None]
    assert timestamps[-1] > timestamps[0]  # still publishing fresh samples
    assert published[-1].available
    assert published[-1].diagnostics["corrupt_frames"] == health.corrupt_frames
    for state in good:  # a corrupted frame never turns into a bogus value
        assert state.sample is not None
        assert len(state.sample.cell_voltages_v) == 8
        assert state.sample.voltage_v == pytest.approx(truth.voltage_v, abs=0.1)
        assert all(3.0 < v < 3.6 for v in state.sample.cell_voltages_v)


GOOD = BatterySample(
    timestamp=0.0,
    voltage_v=13.2,
    current_a=5.0,
    soc_pct=50.0,
    cell_voltages_v=(3.30, 3.30, 3.30, 3.30),
)
NINE_VOLT_CELL = GOOD.with_(cell_voltages_v=(3.30, 9.0, 3.30, 3.30), current_a=50_000.0)
SOC_250 = GOOD.with_(soc_pct=250.0)


async def test_implausible_samples_are_counted_and_never_published(tmp_path: Path) -> None:
    always_bad = ScriptedDevice("bad", [NINE_VOLT_CELL])
    mixed = ScriptedDevice("mixed", [GOOD, NINE_VOLT_CELL, SOC_250])
    gateway = Gateway(
        config(tmp_path, [{"name": "bad", "type": "jk"}, {"name": "mixed", "type": "jk"}]),
        sources={"bad": always_bad, "mixed": mixed},
    )
    published: list[BatteryState] = []

    async def collect() -> None:
        async for snapshot in gateway.hub.updates():
            published.extend(snapshot.values())

    async with running(gateway):
        collector = asyncio.create_task(collect())
        await asyncio.sleep(1.2)
        collector.cancel()

    bad = gateway.batteries["bad"].health
    assert bad.implausible >= 8 and bad.implausible == always_bad.calls
    assert "cell 2 at 9.0 V is impossible" in bad.last_error
    assert gateway.batteries["mixed"].health.implausible >= 4
    assert published
    for state in published:
        if state.name == "bad":
            assert state.sample is None and not state.available
        elif state.sample is not None:
            assert state.sample.cell_voltages_v == GOOD.cell_voltages_v
            assert state.sample.soc_pct == 50.0 and state.sample.current_a == 5.0
    mixed_states = [s for s in published if s.name == "mixed" and s.sample is not None]
    assert mixed_states and mixed_states[-1].available
    # the implausible 50 kA never reached the meters: only 66 W for ~1 s of good samples
    assert gateway.batteries["bad"].meters.charged_wh == 0.0
    assert gateway.batteries["mixed"].meters.charged_wh < 0.1
