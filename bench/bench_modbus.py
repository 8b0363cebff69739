"""BYD Modbus emulator response time on loopback TCP (results go to docs/performance-modbus.md).

    uv run python bench/bench_modbus.py                     # 12 Gen24 polls at 5 s, 600 at 20 Hz
    uv run python bench/bench_modbus.py --gen24-polls 3 --stress 100   # quick look

Each scenario times one request from send to decoded reply with a pymodbus client (so client
overhead is included). Gen24 scenario: the real cycle (300×24 every period, 1000×100 every
4th poll). Stress: 300×24 at 20 Hz. Burst: back-to-back 300×24 as fast as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time

import pymodbus

from batmux.links.modbus import ModbusLink
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.runtime.hub import StateHub
from batmux.sinks.byd_modbus import BydModbusEmulator
from batmux.sinks.inverter_config import BydModbusInverterConfig


def state() -> BatteryState:
    sample = BatterySample(
        time.time(),
        voltage_v=52.1,
        current_a=-12.3,
        soc_pct=64.2,
        capacity_ah=280.0,
        temperatures_c=(19.5, 22.0),
        soh_pct=98.0,
    )
    return BatteryState(
        "bank",
        True,
        sample,
        Meters(812.3, 790.1),
        ChargeLimits(56.8, 100.0, 150.0, 46.4),
        last_good_at=time.time(),
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, ms: list[float]) -> None:
    print(
        f"{name:<28} n={len(ms):<5} p50={pct(ms, 50):.3f} ms  p99={pct(ms, 99):.3f} ms  "
        f"max={max(ms):.3f} ms  mean={statistics.fmean(ms):.3f} ms"
    )


async def timed(link: ModbusLink, address: int, count: int) -> float:
    start = time.perf_counter()
    await link.read(address, count)
    return (time.perf_counter() - start) * 1000


async def paced(link: ModbusLink, period: float, n: int, alarms_every: int = 0) -> list[float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = []
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i * period - loop.time()))
        out.append(await timed(link, 300, 24))
        if alarms_every and i % alarms_every == alarms_every - 1:
            out.append(await timed(link, 1000, 100))
    return out


async def main(args: argparse.Namespace) -> None:
    hub = StateHub()
    hub.publish([state()])
    cfg = BydModbusInverterConfig(
        name="bench", type="byd_modbus", battery="bank", listen="127.0.0.1:0"
    )
    async with BydModbusEmulator(cfg, hub) as emu:
        host, port = emu.bound_address or ("", 0)
        link = ModbusLink(f"{host}:{port}", 21, timeout_s=2.0)
        await link.connect()
        for _ in range(20):  # warm up
            await link.read(300, 24)
        print(
            f"python {platform.python_version()}, pymodbus {pymodbus.__version__}, "
            f"{platform.machine()} {platform.system()}"
        )
        report(
            f"gen24 {args.gen24_period:g} s poll",
            await paced(link, args.gen24_period, args.gen24_polls, alarms_every=4),
        )
        report("stress 20 Hz 300x24", await paced(link, 0.05, args.stress))
        report("burst back-to-back 300x24", [await timed(link, 300, 24) for _ in range(args.burst)])
        link.close()
        builds = []
        for _ in range(2000):
            start = time.perf_counter()
            emu.registers()
            builds.append((time.perf_counter() - start) * 1000)
        report("build_registers (no I/O)", builds)
        print("server:", emu.status())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gen24-period", type=float, default=5.0)
    parser.add_argument("--gen24-polls", type=int, default=12)
    parser.add_argument("--stress", type=int, default=600, help="requests at 20 Hz")
    parser.add_argument("--burst", type=int, default=2000)
    asyncio.run(main(parser.parse_args(sys.argv[1:])))
