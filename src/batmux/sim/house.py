"""A simulated house for the zero-export loop: a seeded load profile and a grid meter.

Physical grid power (+ = import) = load − solar − inverter AC output + charger draw. The load
is precomputed per second for a day: a base load with a cycling fridge, kettle, oven
(thermostat cycling), microwave and washing machine steps, an evening TV/lights block and
Gaussian noise; solar (behind the meter) optional. The meter publishes the grid power on MQTT
(number, int16, int32 or JSON) or serves it as JSON over HTTP on loopback.
"""

from __future__ import annotations

import json
import math
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from batmux.sim.http_device import HttpDeviceSim

DAY_S = 86_400


@dataclass
class House:
    seed: int = 1
    base_w: float = 160.0
    noise_w: float = 12.0  # standard deviation of the per-second noise
    solar_peak_w: float = 0.0  # 0: no solar
    _load: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        load = [self.base_w] * DAY_S
        events: list[tuple[int, int, float]] = []  # (start s, duration s, watts)
        for start in range(0, DAY_S, 2700):  # fridge: 15 of every 45 minutes
            events.append((start + rng.randrange(600), 900, 90.0))
        for hour in (6.5, 7.2, 10.0, 13.0, 15.5, 17.0, 19.5, 21.0):  # kettle
            events.append((int(hour * 3600) + rng.randrange(1200), rng.randrange(120, 240), 2000.0))
        for hour in (7.0, 12.2, 18.3, 22.5):  # microwave
            events.append((int(hour * 3600) + rng.randrange(900), rng.randrange(60, 240), 900.0))
        oven = int(17.8 * 3600) + rng.randrange(900)  # oven heats, then cycles its thermostat
        events.append((oven, 600, 2200.0))
        t = oven + 600
        while t < oven + 3600:
            on = rng.randrange(40, 120)
            events.append((t, on, 2200.0))
            t += on + rng.randrange(60, 180)
        wash = int(9.5 * 3600) + rng.randrange(1800)  # washing machine: heating, then motor bursts
        events.append((wash, 900, 1900.0))
        for k in range(60):
            events.append((wash + 900 + k * 45, 20, 300.0 + rng.uniform(-50, 150)))
        events.append(((19 * 3600), 4 * 3600, 140.0))  # evening: TV and lights
        for start, duration, watts in events:
            for s in range(max(0, start), min(DAY_S, start + duration)):
                load[s] += watts
        self._load = [w + rng.gauss(0.0, self.noise_w) for w in load]

    def next_step(self, after_s: float, min_step_w: float = 1000.0) -> int:
        """The first second after `after_s` where the load jumps by `min_step_w` or more."""
        for s in range(int(after_s) + 1, DAY_S):
            if self._load[s] - self._load[s - 1] >= min_step_w:
                return s
        return int(after_s)

    def load_w(self, t: float) -> float:
        return max(0.0, self._load[int(t) % DAY_S])

    def solar_w(self, t: float) -> float:
        if self.solar_peak_w <= 0:
            return 0.0
        hour = (t % DAY_S) / 3600
        return max(0.0, self.solar_peak_w * math.sin(math.pi * (hour - 6.0) / 14.0))

    def grid_w(self, t: float, inverter_ac_w: float, charger_w: float = 0.0) -> float:
        return self.load_w(t) - self.solar_w(t) - inverter_ac_w + charger_w


def encode_meter(watts: float, fmt: str, path: str = "power") -> bytes:
    """The payload a meter of this format publishes (int16/int32 big-endian signed)."""
    if fmt == "int16":
        return struct.pack(">h", max(-32768, min(32767, round(watts))))
    if fmt == "int32":
        return struct.pack(">i", round(watts))
    if fmt == "json":
        data: Any = round(watts, 1)
        for part in reversed(path.split(".")):
            data = {part: data}
        return json.dumps(data).encode()
    return f"{watts:.1f}".encode()


class HttpMeterServer(HttpDeviceSim):
    """Serves `{"total_power": W}` (or any dotted path) from a callable on loopback; the shared
    REST simulator shell gives it the fault knobs (garbage, HTTP errors, drop_off/come_back)."""

    def __init__(self, read_w: Any, path: str = "total_power") -> None:
        super().__init__()
        self.read_w = read_w
        self.path = path
        self.record = False  # polled for as long as a demo runs

    def routes(self, app: web.Application) -> None:
        async def status(request: web.Request) -> web.Response:
            return web.Response(body=encode_meter(self.read_w(), "json", self.path),
                                content_type="application/json")  # fmt: skip

        app.router.add_get("/status", status)


async def publish_meter(
    client: Any, topic: str, read_w: Any, fmt: str = "number", period_s: float = 1.0,
    path: str = "power",
) -> None:  # fmt: skip
    """Publish `read_w()` on `topic` every `period_s` with an aiomqtt client, in `fmt`."""
    import asyncio

    while True:
        await client.publish(topic, encode_meter(read_w(), fmt, path))
        await asyncio.sleep(period_s)
