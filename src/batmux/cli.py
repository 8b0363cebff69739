"""The ``batmux`` command line: run, demo, check-config, decode, replay, inject, scan."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batmux import __version__
from batmux.errors import EXIT_CONFIG, BatmuxError, ImplausibleSample, ProtocolError

if TYPE_CHECKING:  # imported where used: `run` chooses the config models first (modelkit)
    from batmux.config import Config

log = logging.getLogger("batmux")

DEFAULT_CONFIG = "batmux.yaml"

EXIT_IMPLAUSIBLE = 2  # ``decode``: the frames decoded, but to values that cannot be true
EXIT_WATCHDOG = 3


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _die(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"batmux: {message}", file=sys.stderr)
    return code


# -- run / demo ----------------------------------------------------------------------------------


def build_gateway(config: Config, capture_dir: str | None = None) -> Any:
    from batmux.runtime.app import Gateway
    from batmux.runtime.wiring import wire

    gateway = Gateway(config)
    gateway.capture_dir = capture_dir  # before wiring: without it (and the web) no frame rings
    wire(gateway)
    return gateway


async def _run_until_signal(gateway: Any, extra: list[Any] | None = None) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        await gateway.run(extra)
    except asyncio.CancelledError:
        log.info("stopping")


def _run_gateway(
    config: Config, capture_dir: str | None = None, config_dir: Path | None = None
) -> int:
    from batmux.runtime.app import WatchdogExpired
    from batmux.runtime.malloc_arena import share_one_arena

    async def main() -> None:
        gateway = build_gateway(config, capture_dir)
        share_one_arena()  # after wiring imported what it needs, before any thread starts
        gateway.config_dir = config_dir  # netzero power LUT files are relative to the config
        await _run_until_signal(gateway)

    try:
        asyncio.run(main())
    except BaseExceptionGroup as group:
        match, rest = group.split(WatchdogExpired)
        if match is None or rest is not None:
            raise
        return _die(f"watchdog: {match.exceptions[0]}", EXIT_WATCHDOG)
    return 0


def _load(file: str) -> Config | int:
    """The config, or the exit code after one ``file: field: reason`` line on stderr."""
    from batmux.config_child import load_reported

    return load_reported(file)


def _load_for_run(file: str) -> Config | int:
    """``_load`` for the long-running gateway: validated by a short-lived process with pydantic,
    rebuilt here from slim models (``batmux.config_child``), so this process never holds
    pydantic, its models or PyYAML. ``BATMUX_SLIM_CONFIG=0`` validates in this process instead,
    and so does a process that imported the config modules already (tests)."""
    from batmux import modelkit

    in_process = os.environ.get("BATMUX_SLIM_CONFIG") == "0" or not sys.executable
    if in_process or not modelkit.use_slim():
        return _load(file)
    from batmux.config_child import load_checked

    # what every gateway imports, while the child validates on the other core
    return load_checked(file, while_waiting=("batmux.runtime.wiring",))


def cmd_run(args: argparse.Namespace) -> int:
    config = _load_for_run(args.config)
    if isinstance(config, int):
        return config
    return _run_gateway(config, args.capture, Path(args.config).resolve().parent)


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile  # demo only: a `run` without MQTT (paho imports it) saves ~0.8 MiB RSS

    if args.netzero:
        from batmux.runtime.demo_netzero import run_netzero_demo

        with tempfile.TemporaryDirectory(prefix="batmux-demo-") as state_dir:
            return asyncio.run(run_netzero_demo(args.duration, state_dir))
    from batmux.runtime.dashboard import console_table
    from batmux.runtime.demo import demo_config, simulated_gen24

    async def main() -> None:
        broker = None
        url = args.mqtt
        if url is None:
            from batmux.links.mqtt_broker import EmbeddedBroker

            broker = EmbeddedBroker(port=args.broker_port)
            await broker.start()
            url = broker.url
            print(
                f"batmux demo: embedded MQTT broker on {url} "
                f"(watch with: mosquitto_sub -h 127.0.0.1 -p {broker.port} -t 'batmux/#' -v)"
            )
        modbus_port = _free_port()
        served = "Tesla pack (contactors closed by batmux)" if args.ev else "bank"
        print(
            f"batmux demo: {served} emulated as a BYD battery on Modbus TCP 127.0.0.1:{modbus_port}"
        )
        web_port = _free_port(prefer=8080)
        print(f"batmux demo: dashboard, web API and /metrics on http://127.0.0.1:{web_port}/")
        with tempfile.TemporaryDirectory(prefix="batmux-demo-") as state_dir:
            raw = demo_config(url, state_dir, modbus_port, web_port, ev=args.ev)
            proxy = None
            if args.proxy:
                from batmux.runtime.demo_proxy import start_demo_proxy

                proxy = await start_demo_proxy(raw)
                print(
                    "batmux demo: batteries read through a simulated ESPHome Bluetooth proxy "
                    f"(native API, Noise-encrypted) on {proxy.host}:{proxy.port}"
                )
            from batmux.config import parse_config

            config = parse_config(raw, "<demo>")
            gateway = build_gateway(config)
            notes: dict[str, str] = {}
            extra = [console_table(gateway, notes), simulated_gen24(modbus_port, notes)]
            try:
                async with asyncio.timeout(args.duration):
                    await _run_until_signal(gateway, extra)
            except TimeoutError:
                pass
            finally:
                if broker is not None:
                    await broker.stop()
                if proxy is not None:
                    await proxy.stop()

    asyncio.run(main())
    return 0


def _free_port(prefer: int = 0) -> int:
    """``prefer`` if it is free on loopback, else any free port."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", prefer))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    if isinstance(config, int):
        return config
    names = ", ".join(b.name for b in config.batteries) or "none"
    print(f"{args.file}: OK ({len(config.batteries)} batteries: {names})")
    return 0


# -- decode / scan -------------------------------------------------------------------------------


def decode_frames(protocol: str, frames: Sequence[str], key: str | None = None) -> dict[str, Any]:
    """The normalized sample of one or more frames as a JSON-ready dict (raises BatmuxError)."""
    from batmux.devices.registry import decodable_protocols, get_type, load

    if protocol not in decodable_protocols():
        raise ProtocolError(
            f"unknown protocol {protocol!r}; known: {', '.join(decodable_protocols())}"
        )
    codec = load(get_type(protocol).codec)()
    if key is not None:
        if not hasattr(codec, "decode_with_key"):
            raise ProtocolError(f"{protocol} takes no --key")
        return codec.decode_with_key(frames, key).to_json()
    complete: list[Any] = []
    for text in frames:
        complete.extend(codec.feed(codec.parse_cli_frame(text)))
    return codec.decode(complete, 0.0).to_json()


def capture_frames(path: str) -> list[str]:
    """The received frames of a ``batmux run --capture`` file, in arrival order."""
    from batmux.devices.capture import read_capture

    try:
        return [e.hex for e in read_capture(path) if e.direction == "rx"]
    except (OSError, ValueError, KeyError) as exc:
        raise ProtocolError(f"cannot read capture {path}: {exc}") from None


def cmd_decode(args: argparse.Namespace) -> int:
    try:
        frames = list(args.frames)
        if args.capture:
            frames += capture_frames(args.capture)
        if not frames:
            return _die("decode: give FRAMEs or --capture FILE")
        result = decode_frames(args.protocol, frames, args.key)
    except ImplausibleSample as exc:
        return _die(f"decode {args.protocol}: implausible sample: {exc}", EXIT_IMPLAUSIBLE)
    except BatmuxError as exc:
        return _die(f"decode {args.protocol}: {exc}")
    print(json.dumps(result, indent=2 if args.pretty else None))
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    try:
        from batmux.devices.scan import scan, starter_config
    except ImportError:
        return _die("scan is not available in this build", 1)

    adapter = args.adapter
    if args.proxy:
        proxy = _scan_proxy(args)
        if isinstance(proxy, int):
            return proxy
        adapter = f"proxy:{proxy.name}"

    async def main() -> int:
        try:
            if args.proxy:
                from batmux.devices.scan_proxy import scan_proxy

                results = await scan_proxy(proxy, args.timeout)
            else:
                results = await scan(args.timeout, args.adapter)
        except BatmuxError as exc:
            return _die(f"scan: {exc}", 1)
        print(f"{'MAC':<18} {'RSSI':>5}  {'TYPE':<20} NAME")
        for r in results:
            print(
                f"{r.mac:<18} {r.rssi if r.rssi is not None else '':>5}  "
                f"{r.guessed_type or '?':<20} {r.name or ''}"
            )
        if args.write:
            with open(args.write, "w", encoding="utf-8") as fh:
                fh.write(starter_config(results, adapter=adapter))
            print(f"wrote {args.write}")
        return 0

    return asyncio.run(main())


def _scan_proxy(args: argparse.Namespace) -> Any:
    """The proxy ``--proxy NAME`` means: a ``bluetooth_proxies`` entry of the config, or
    ``HOST[:PORT]`` (with ``--encryption-key``) for a proxy not configured yet."""
    from batmux.links.esphome_proxy import EspHomeProxy

    if os.path.exists(args.config):
        config = _load(args.config)
        if isinstance(config, int):
            return config
        from batmux.runtime.proxies import proxies_for

        configured = proxies_for(config).get(args.proxy)
        if configured is not None:
            return configured
    host, _, port = args.proxy.partition(":")
    if not host or (port and not port.isdigit()):
        return _die(f"scan: no bluetooth_proxies entry {args.proxy!r} in {args.config}")
    return EspHomeProxy(host, host, int(port or 6053), args.encryption_key)


def cmd_replay(args: argparse.Namespace) -> int:
    """Feed a candump log into a CAN bus; with ``-c`` the gateway of that config runs in the
    same process and reads it (so ``interface: virtual`` works), then prints what it decoded."""
    from batmux.links.can_bus import CanLink
    from batmux.links.can_config import CanBusConfig
    from batmux.links.can_replay import replay

    config = None
    if args.config:
        loaded = _load(args.config)
        if isinstance(loaded, int):
            return loaded
        config = loaded
    bus_cfg = CanBusConfig(interface=args.interface or "virtual", channel=args.channel or "replay")
    if config is not None and not (args.interface or args.channel):
        can_batteries = [b for b in config.batteries if b.can is not None]
        if can_batteries:
            bus_cfg = can_batteries[0].can.model_copy(update={"log": None})

    async def main() -> int:
        gateway = build_gateway(config) if config is not None else None
        task = asyncio.create_task(gateway.run()) if gateway is not None else None
        await asyncio.sleep(0.5 if gateway is not None else 0)
        try:
            async with CanLink(bus_cfg) as bus:
                result = await replay(args.log, bus, args.speed)
            print(
                f"replayed {result.frames} frames ({result.skipped_lines} lines skipped) "
                f"on {bus_cfg.interface}:{bus_cfg.channel}"
            )
            if gateway is not None:
                await asyncio.sleep(max(config.sample_period, 0.5) * 2)
                print(
                    json.dumps(
                        {n: s.to_json() for n, s in gateway.publish_now_map().items()},
                        indent=2,
                        default=str,
                    )
                )
        except BatmuxError as exc:
            return _die(f"replay: {exc}", 1)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return 0

    return asyncio.run(main())


def cmd_inject(args: argparse.Namespace) -> int:
    """Ask the running gateway to inject a fault (commissioning; needs ``allow_inject``)."""
    from batmux.runtime.inject_client import send_injection

    config = _load(args.config)
    if isinstance(config, int):
        return config
    try:
        print(asyncio.run(send_injection(config, args.pack, args.fault, args.for_s, args.wait)))
    except BatmuxError as exc:
        return _die(f"inject: {exc}", 1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batmux", description=__doc__)
    parser.add_argument("--version", action="version", version=f"batmux {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the gateway")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    p.add_argument("--capture", metavar="DIR", help="write each device's last frames here on exit")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="simulated batteries through the whole pipeline")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--mqtt", metavar="URL", help="use this broker instead of an embedded one")
    p.add_argument("--broker-port", type=int, default=0, help=argparse.SUPPRESS)
    variant = p.add_mutually_exclusive_group()  # separate demos: at most one
    variant.add_argument(
        "--netzero", action="store_true", help="zero export: a simulated house and AhoyDTU"
    )
    variant.add_argument("--ev", action="store_true", help="a simulated Tesla pack instead")
    variant.add_argument(
        "--proxy",
        action="store_true",
        help="read the batteries through a simulated ESPHome Bluetooth proxy",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check-config", help="validate a config file")
    p.add_argument("file", nargs="?", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("decode", help="decode captured frames to a normalized sample (JSON)")
    p.add_argument("protocol")
    p.add_argument("frames", nargs="*", metavar="FRAME", help="hex (or ID#HEX for CAN)")
    p.add_argument("--key", help="decryption key (victron_smartshunt Instant Readout)")
    p.add_argument("--capture", metavar="FILE", help="decode the frames of a capture file")
    p.add_argument("--pretty", action="store_true")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("replay", help="feed a candump log into the CAN sources")
    p.add_argument("log", metavar="LOG")
    p.add_argument("-c", "--config", help="run this config's gateway on the replayed bus")
    p.add_argument("--interface", help="python-can interface (default: the config's, or virtual)")
    p.add_argument("--channel", help="CAN channel (default: the config's, or 'replay')")
    p.add_argument("--speed", type=float, default=1.0, help="2 = twice as fast, 0 = no delays")
    p.set_defaults(func=cmd_replay)

    from batmux.core.inject import FAULTS

    p = sub.add_parser("inject", help="make a running gateway see a fault (commissioning)")
    p.add_argument("pack")
    p.add_argument("fault", choices=FAULTS)
    p.add_argument("--for", dest="for_s", type=float, help="seconds (default: until clear)")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for confirmation")
    p.set_defaults(func=cmd_inject)

    p = sub.add_parser("scan", help="list nearby BLE devices with a guess of the BMS type")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--adapter")
    p.add_argument("--write", metavar="FILE", help="write a starter config")
    p.add_argument(
        "--proxy",
        metavar="NAME",
        help="listen through this ESPHome Bluetooth proxy "
        "(a bluetooth_proxies name of the config, or HOST[:PORT])",
    )
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config with the proxy")
    p.add_argument("--encryption-key", help="the proxy's API key, for --proxy HOST[:PORT]")
    p.set_defaults(func=cmd_scan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # ``decode`` takes FRAMEs on both sides of its options (``decode P --key K PAYLOAD``);
    # argparse alone would close the FRAME list at the first option.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "decode" and not any(a.startswith("-") for a in extra):
        args.frames = [*args.frames, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # ``run`` says at INFO what it connects to, so a user sees it is alive (-v: still INFO)
    _setup_logging(max(args.verbose, 1) if args.command == "run" else args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
