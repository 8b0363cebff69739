"""Where a Venus service's 1 Hz round goes: the same child as ``bench_venus_vs_velib.py`` with
parts taken away, and the bare event loops it and velib sit in.

    uv run python bench/bench_venus_round_parts.py [--repeats 2] [--warmup 3] [--seconds 20]
        [--batmux-python PATH]

Each variant is a child process on its own private dbus-daemon, measured as in the main bench
(whole-process CPU over ``--seconds`` after ``--warmup``, per round), alternating run by run:

- **full**: the real ``VenusService`` fed the next state each second (the main bench's batmux);
- **nosend**: the same service and bus, but the changed paths are not sent: full − nosend is
  the ``ItemsChanged`` (texts, bytes, the message, the write), nosend − idle is building the
  values from the state, the history tracker, the compare and the service's coroutine and lock;
- **idle**: registered on the bus, woken once a second by the same loop, sending nothing;
- **asyncio bare** / **GLib bare**: an empty asyncio loop with the same 1 s sleep and an empty
  GLib main loop with ``timeout_add(1000)`` (what velib's process sits in);
- **asyncio timer**: an asyncio loop running only a ``call_later`` chain (no task, no future):
  the loop's own round without a coroutine's;
- **python sleep**: ``time.sleep(1)`` in a loop, no event loop at all: what waking the
  interpreter once a second costs here, the floor under any Python service.

Interpreters as in the main bench: velib's Python for both when it is the same version.

Differences between rows are the cost of the parts; they move with the box's load like every
figure here, so compare within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_venus_vs_velib import batmux_src, same_python
from bench_vs_field import cpu_s, load1, stop_proc

CHILD = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[3])
from bench_venus_vs_velib import states, venus_config
from batmux.sinks.venus import VenusService

variant = sys.argv[1]


class NoSend(VenusService):
    # Everything up to the signal: build, history, compare; nothing is sent.
    def _emit(self, changed, batch=True):
        pass


async def main():
    seq = states()
    loop = asyncio.get_running_loop()
    if variant != "bare":
        kind = NoSend if variant == "nosend" else VenusService
        service = kind(venus_config(), sys.argv[2], wall_clock=seq.wall_clock)
        await service.update(seq.next())
    print("ready", flush=True)
    next_at = loop.time() + 1.0
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        next_at += 1.0
        if variant in ("full", "nosend"):
            await service.update(seq.next())

asyncio.run(main())
"""

PLAIN_CHILD = r"""
import sys, time
print("ready", flush=True)
if sys.argv[1] == "python-sleep":
    while True:
        time.sleep(1.0)
import asyncio
loop = asyncio.new_event_loop()
def tick():
    loop.call_later(1.0, tick)
loop.call_later(1.0, tick)
loop.run_forever()
"""

GLIB_CHILD = r"""
from gi.repository import GLib
GLib.timeout_add(1000, lambda: True)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def run_once(variant: str, args: argparse.Namespace) -> float:
    from batmux.sim.fake_bluez.bus import start_private_bus

    with tempfile.TemporaryDirectory(prefix=f"venus-{variant}-") as tmp:
        bus_proc, address = start_private_bus(Path(tmp))
        here = str(Path(__file__).resolve().parent)
        env = dict(os.environ)
        if variant == "glib-bare":
            cmd = [args.velib_python, "-c", GLIB_CHILD]
        elif variant in ("python-sleep", "asyncio-timer"):
            cmd = [args.batmux_python, "-c", PLAIN_CHILD, variant]
        else:
            path = [batmux_src()]
            if args.batmux_python != sys.executable:
                path.append(sysconfig.get_paths()["purelib"])
            env["PYTHONPATH"] = os.pathsep.join(path)
            kind = variant.removeprefix("asyncio-")
            cmd = [args.batmux_python, "-c", CHILD, kind, address, here]
        child = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        try:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{variant} child did not start")
            time.sleep(args.warmup)
            c0 = cpu_s(child.pid)
            time.sleep(args.seconds)
            return 1e6 * (cpu_s(child.pid) - c0) / args.seconds
        finally:
            stop_proc(child)
            stop_proc(bus_proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--velib-python", default="/usr/bin/python3")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batmux-python", help="as in bench_venus_vs_velib.py")
    args = parser.parse_args()
    if args.batmux_python is None:
        same = same_python(args.velib_python)
        args.batmux_python = args.velib_python if same else sys.executable
    print(f"batmux's variants run on {args.batmux_python}, GLib's on {args.velib_python}")
    variants = ["full", "nosend", "idle", "asyncio-bare", "asyncio-timer", "python-sleep"]
    glib = subprocess.run([args.velib_python, "-c", "import gi"], capture_output=True)
    variants += ["glib-bare"] if glib.returncode == 0 else []
    results: dict[str, list[float]] = {v: [] for v in variants}
    loads = [load1()]
    for rep in range(args.repeats):
        for variant in variants if rep % 2 == 0 else variants[::-1]:
            us = run_once(variant, args)
            results[variant].append(us)
            loads.append(load1())
            print(f"{variant}: {us:.0f} µs", flush=True)
    print("\n| variant | µs CPU per 1 Hz round (min/median/max) |")
    print("|---|---|")
    for variant, values in results.items():
        v = sorted(values)
        print(f"| {variant} | {v[0]:.0f}/{statistics.median(v):.0f}/{v[-1]:.0f} |")
    print(f"\nload average (1 min): {min(loads):.2f}–{max(loads):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
