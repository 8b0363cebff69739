"""``python -m batmux.sim.fake_bluez``: serve simulated BLE batteries as BlueZ on a private bus."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

from batmux.sim.fake_bluez.bus import start_private_bus
from batmux.sim.fake_bluez.service import FakeBlueZ


def _device_arg(text: str) -> tuple[str, str, str]:
    """``TYPE=MAC[,NAME]`` → (type, mac, name)."""
    kind, _, rest = text.partition("=")
    mac, _, name = rest.partition(",")
    if not kind or len(mac.split(":")) != 6:
        raise argparse.ArgumentTypeError(f"expected TYPE=MAC[,NAME], got {text!r}")
    return kind, mac.upper(), name or f"{kind.upper()}-{mac[-5:].replace(':', '')}"


async def _serve(devices: list[tuple[str, str, str]], address: str | None) -> None:
    from batmux.devices.registry import get_type, load
    from batmux.sim.battery import SimBattery, sine_load

    fake = FakeBlueZ(address)
    await fake.start()
    for i, (kind, mac, name) in enumerate(devices):
        sim_ref = get_type(kind).sim
        if sim_ref is None:
            raise SystemExit(f"type {kind!r} has no simulator")
        driver_ref = get_type(kind).driver
        spec = load(driver_ref).spec if driver_ref else None
        battery = SimBattery(soc_pct=50.0 + 10 * i, current_a=sine_load(20.0, 300.0), seed=i)
        fake.add_device(
            load(sim_ref)(battery),
            mac,
            name,
            **({"service_uuid": spec.service_uuid} if spec else {}),
            manufacturer_data={m: b"" for m in (spec.manufacturer_ids[:1] if spec else ())},
        )
        print(f"serving {kind} {mac} {name!r}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m batmux.sim.fake_bluez --device jk=C8:47:8C:00:00:01,JK-house``"""
    parser = argparse.ArgumentParser(
        prog="python -m batmux.sim.fake_bluez",
        description="Serve simulated BLE batteries as BlueZ on a private D-Bus.",
    )
    parser.add_argument(
        "--device",
        action="append",
        type=_device_arg,
        required=True,
        metavar="TYPE=MAC[,NAME]",
        help="a simulated device (repeatable)",
    )
    parser.add_argument(
        "--bus", metavar="ADDRESS", help="serve on this bus instead of starting a private one"
    )
    args = parser.parse_args(argv)
    if args.bus:
        asyncio.run(_serve(args.device, args.bus))
        return 0
    with tempfile.TemporaryDirectory(prefix="batmux-bluez-") as tmp:
        proc, address = start_private_bus(Path(tmp))
        print(f"export DBUS_SYSTEM_BUS_ADDRESS={address}", flush=True)
        try:
            asyncio.run(_serve(args.device, address))
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
