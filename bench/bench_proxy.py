"""Added latency per sample through an ESPHome Bluetooth proxy vs the local BlueZ path.

    uv run python bench/bench_proxy.py [--samples 100] [--hop-ms 0 2]

One simulated pack per family (JBD: 2 requests, 2 answers of ~40 bytes; Daly: 13-byte
request/answer frames, 7 round trips; ANT: one request, one ~140-byte answer) is read
``--samples`` times on a kept connection, through

* ``bluez``: BleSource → BleakLink → bleak → D-Bus → the fake bluetoothd (a private
  dbus-daemon; the tests' path);
* ``proxy``: BleSource → ProxyLink → aioesphomeapi → TCP on loopback → the simulated ESPHome
  proxy, plaintext and Noise-encrypted, with ``--hop-ms`` of simulated Wi-Fi latency each way.

Both paths share the same radio model (write → first notification 10 ms, 20-byte
notifications, no gap), so the difference is what each path adds. Reported per sample: median
and p95 wall time, and the process CPU time (gateway and simulator run in this one process,
for both paths alike).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from batmux.devices.ble_source import BleSource
from batmux.devices.registry import get_type, load
from batmux.links.bleak_link import BleakLink
from batmux.links.esphome_link import ProxyLink
from batmux.links.esphome_proxy import EspHomeProxy
from batmux.sim.battery import SimBattery
from batmux.sim.esphome_proxy import AirDevice, SimProxy
from batmux.sim.fake_bluez.bus import start_private_bus
from batmux.sim.fake_bluez.service import FakeBlueZ
from proxy_helpers import FAMILIES, KEY  # the tests' MACs, names and Noise key

RADIO_LATENCY_S = 0.01


def parts(family: str) -> tuple[Any, Any, Any]:
    t = get_type(family)
    sim = load(t.sim)(SimBattery(cells=16, soc_pct=60.0, current_a=-5.0))
    return sim, load(t.driver), load(t.codec)


async def timed(source: BleSource, samples: int) -> dict[str, float]:
    await source.sample()  # connect and first read outside the timing
    walls = []
    cpu = time.process_time()
    for _ in range(samples):
        began = time.perf_counter()
        await source.sample()
        walls.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu
    walls.sort()
    return {
        "median_ms": 1000 * statistics.median(walls),
        "p95_ms": 1000 * walls[int(0.95 * (len(walls) - 1))],
        "cpu_ms": 1000 * cpu / samples,
    }


async def bluez_path(family: str, samples: int, bus: str) -> dict[str, float]:
    sim, driver_cls, codec_cls = parts(family)
    mac, name = FAMILIES[family]
    async with FakeBlueZ(bus) as fake:
        fake.add_device(
            sim,
            mac,
            name,
            service_uuid=driver_cls.spec.service_uuid,
            latency_s=RADIO_LATENCY_S,
            chunk_gap_s=0.0,
        )
        source = BleSource(family, driver_cls(BleakLink(mac), codec_cls()), timeout_s=5)
        try:
            return await timed(source, samples)
        finally:
            await source.close()


async def proxy_path(family: str, samples: int, hop_ms: float, key: str | None) -> dict[str, float]:
    sim, driver_cls, codec_cls = parts(family)
    mac, name = FAMILIES[family]
    air = AirDevice(
        mac,
        name,
        sim,
        service_uuid=driver_cls.spec.service_uuid,
        latency_s=RADIO_LATENCY_S,
        chunk_gap_s=0.0,
    )
    async with SimProxy("bench", encryption_key=key, hop_latency_s=hop_ms / 1000) as server:
        server.hear(air)
        proxy = EspHomeProxy("bench", server.host, server.port, encryption_key=key)
        source = BleSource(family, driver_cls(ProxyLink(proxy, mac), codec_cls()), timeout_s=5)
        try:
            return await timed(source, samples)
        finally:
            await source.close()
            await proxy.close()


async def main(samples: int, hops: list[float], families: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        daemon, address = start_private_bus(Path(directory))
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        try:
            print(
                "| family | path | Wi-Fi hop each way | median ms/sample | p95 ms "
                "| added (median) | CPU ms/sample |"
            )
            print("|---|---|---|---|---|---|---|")
            for family in families:
                base = await bluez_path(family, samples, address)
                rows = [("local BlueZ (fake bluetoothd, D-Bus)", "—", base)]
                for hop in hops:
                    for label, key in (("proxy, plaintext", None), ("proxy, Noise", KEY)):
                        rows.append(
                            (label, f"{hop:g} ms", await proxy_path(family, samples, hop, key))
                        )
                for label, hop_text, r in rows:
                    added = r["median_ms"] - base["median_ms"]
                    print(
                        f"| {family} | {label} | {hop_text} | {r['median_ms']:.1f} | "
                        f"{r['p95_ms']:.1f} | {added:+.1f} | {r['cpu_ms']:.2f} |"
                    )
        finally:
            daemon.kill()
            daemon.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--hop-ms", type=float, nargs="+", default=[0.0, 2.0])
    parser.add_argument(
        "--families", nargs="+", default=["jbd", "daly", "ant"], choices=sorted(FAMILIES)
    )
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.hop_ms, args.families))
