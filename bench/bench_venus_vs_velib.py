"""batmux's Venus battery service against Victron's velib ``VeDbusService``: same paths, same
changes, 1 Hz, each on its own private dbus-daemon.

    uv run python bench/bench_venus_vs_velib.py [--velib /tmp/velib_python]
        [--velib-python /usr/bin/python3] [--repeats 3] [--warmup 5] [--seconds 30] [--velib-all]
        [--batmux-python PATH]

The changes: a simulated 16-cell pack (sine load) read once a second on an injected clock, so
every run sees the same sequence. This process first runs batmux's ``VenusService`` over that
sequence without a bus and records the paths it would register and, per round, the paths that
changed (the service sends only those, in one ``ItemsChanged``). Then, alternating run by run:

- **batmux**: a child process runs the real ``VenusService`` on the private bus and feeds it
  the same ``BatteryState`` each second; so its figure includes building every path from the
  state, comparing, and sending;
- **velib**: a child process (dbus-python + GLib, as on a GX) registers a ``VeDbusService`` with
  the same paths and initial values, and each second sets the recorded changed values inside
  ``with service as s:`` (velib's batching context: one ``ItemsChanged`` per round). Computing
  the values is not in its figure: what a velib driver does to get them is not counted;
- **velib-all** (``--velib-all``, extra): the same velib service, but each second every path
  is set (the round's full set of values), as dbus-serialbattery sets all its paths per poll;
  velib compares each and sends the changed ones. Shown for context; the ratio that counts
  stays batmux ÷ velib.

Both children run on the same interpreter by default: velib's (``--velib-python``), with this
environment's packages on ``PYTHONPATH`` for batmux, when it is the same Python version (the
compiled dbus-fast and pydantic-core need that); otherwise batmux's own. Two builds of the same
version differed by 15 % here (Debian's 3.11 against a pyenv 3.11 configured with
``--enable-shared`` only), which would be the interpreters' difference, not the libraries'.
``--batmux-python`` picks another one.

CPU is each child's whole-process CPU (all threads, /proc) over ``--seconds`` after
``--warmup``, per publish round; the ratio is batmux ÷ velib of the medians.

velib is not vendored. Get the pinned revision (it needs dbus-python and PyGObject, e.g.
Debian's python3-dbus and python3-gi with /usr/bin/python3):

    git clone https://github.com/victronenergy/velib_python /tmp/velib_python
    git -C /tmp/velib_python checkout 588697e830b68941a60026be862102b235db7a99

Without it, dbus-python or dbus-daemon the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_field import cpu_s, load1, rss_mib, stop_proc

VELIB_COMMIT = "588697e830b68941a60026be862102b235db7a99"
ROUNDS = 180  # distinct rounds: warm-up + measured seconds stay below this, so both tools
# see exactly the recorded changes (after ROUNDS the sequence starts again)
NAME = "com.victronenergy.battery.bench"  # what VenusConfig names battery "bench"

VELIB_CHILD = r"""
import json, sys
import dbus, dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib
DBusGMainLoop(set_as_default=True)
from vedbus import VeDbusService

plan = json.load(open(sys.argv[2]))
bus = dbus.bus.BusConnection(sys.argv[1])
service = VeDbusService(plan["name"], bus=bus, register=False)
for path, value in plan["initial"].items():
    service.add_path(path, value)
service.register()
rounds = plan["full" if sys.argv[3:] == ["all"] else "rounds"]
state = {"i": 0}

def tick():
    changes = rounds[state["i"] % len(rounds)]
    state["i"] += 1
    with service as s:
        for path, value in changes.items():
            s[path] = value
    return True

GLib.timeout_add(1000, tick)
print("ready", flush=True)
GLib.MainLoop().run()
"""

BATMUX_CHILD = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[3])
from bench_venus_vs_velib import states, venus_config
from batmux.sinks.venus import VenusService

async def main():
    seq = states()
    service = VenusService(venus_config(), sys.argv[1], wall_clock=seq.wall_clock)
    loop = asyncio.get_running_loop()
    await service.update(seq.next())
    assert service.registered
    print("ready", flush=True)
    next_at = loop.time() + 1.0
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        next_at += 1.0
        await service.update(seq.next())

asyncio.run(main())
"""


class States:
    """The same state sequence in every process: a simulated pack on an injected clock, all
    ``ROUNDS`` states computed up front (the simulator's work is not in either figure)."""

    def __init__(self) -> None:
        from batmux.sim.battery import SimBattery, sine_load
        from batmux.sim.bms import sim_state

        clock = [1_000_000.0]
        battery = SimBattery(
            cells=16, soc_pct=55.0, current_a=sine_load(30.0, 90.0), seed=7, clock=lambda: clock[0]
        )
        self.times: list[float] = []
        self.states: list[Any] = []
        for _ in range(ROUNDS):
            clock[0] += 1.0
            self.times.append(clock[0])
            self.states.append(sim_state("bench", battery))
        self.i = -1

    def wall_clock(self) -> float:
        return self.times[max(self.i, 0) % ROUNDS]

    def next(self) -> Any:
        self.i += 1
        return self.states[self.i % ROUNDS]


def states() -> States:
    return States()


def venus_config() -> Any:
    from batmux.sinks.venus_config import VenusConfig

    return VenusConfig.model_validate({"battery": "bench", "device_instance": 100})


def plan() -> dict[str, Any]:
    """The paths batmux registers and, per round, what changed (recorded without a bus)."""
    from batmux.sinks.venus import VenusService

    rounds: list[dict[str, Any]] = []
    full: list[dict[str, Any]] = []  # every path's value after each round, for --velib-all

    class Recorder(VenusService):
        async def _register(self, values: dict[str, Any]) -> None:
            self._values = dict(values)
            self.registered = True

        def _emit(self, changed: dict[str, Any], batch: bool = True) -> None:
            rounds.append(dict(changed))
            full.append(dict(self._values))

    async def record() -> dict[str, Any]:
        seq = states()
        service = Recorder(venus_config(), None, wall_clock=seq.wall_clock)
        await service.update(seq.next())
        initial = service.values()
        for _ in range(ROUNDS):  # the last one wraps around to the first state
            await service.update(seq.next())
        return initial

    initial = asyncio.run(record())
    return {"name": NAME, "initial": initial, "rounds": rounds, "full": full}


def batmux_src() -> str:
    import batmux

    return str(Path(batmux.__file__).resolve().parents[1])


def same_python(python: str) -> bool:
    """Whether ``python`` is the same major.minor as this one (batmux's compiled packages,
    dbus-fast and pydantic-core, are built for it)."""
    probe = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
    )
    return probe.stdout.split() == [str(sys.version_info[0]), str(sys.version_info[1])]


def run_once(tool: str, args: argparse.Namespace, plan_file: Path) -> dict[str, Any]:
    from batmux.sim.fake_bluez.bus import start_private_bus

    with tempfile.TemporaryDirectory(prefix=f"venus-{tool}-") as tmp:
        bus_proc, address = start_private_bus(Path(tmp))
        child: subprocess.Popen[str] | None = None
        try:
            if tool in ("velib", "velib-all"):
                script = Path(tmp) / "velib_child.py"
                script.write_text(VELIB_CHILD)
                env = {**os.environ, "PYTHONPATH": str(args.velib)}
                cmd = [args.velib_python, str(script), address, str(plan_file)]
                if tool == "velib-all":
                    cmd.append("all")
            else:
                env = dict(os.environ)
                src = args.ref_src if tool == "batmux-ref" else Path(batmux_src())
                path = [str(src)]  # the tree under test first (ref: e.g. before a change)
                if args.batmux_python != sys.executable:  # batmux's packages on velib's Python
                    path.append(sysconfig.get_paths()["purelib"])
                env["PYTHONPATH"] = os.pathsep.join(path)
                here = str(Path(__file__).resolve().parent)
                cmd = [args.batmux_python, "-c", BATMUX_CHILD, address, str(plan_file), here]
            child = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
            )
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{tool} child did not start")
            time.sleep(args.warmup)
            c0, l0 = cpu_s(child.pid), load1()
            time.sleep(args.seconds)
            c1, l1 = cpu_s(child.pid), load1()
            return {
                "tool": tool,
                "cpu_s": c1 - c0,
                "us_per_round": 1e6 * (c1 - c0) / args.seconds,
                "rss_mib": rss_mib(child.pid),
                "load": (l0, l1),
            }
        finally:
            if child is not None:
                stop_proc(child)
            stop_proc(bus_proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--velib", type=Path, default=Path("/tmp/velib_python"))
    parser.add_argument("--velib-python", default="/usr/bin/python3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--ref-src",
        type=Path,
        help="also run batmux from this src/ directory (e.g. a `git archive` of an older commit)",
    )
    parser.add_argument(
        "--velib-all",
        action="store_true",
        help="also run velib set with every path each round, as dbus-serialbattery does "
        "(velib compares and sends the changed ones); the ratio stays against plain velib",
    )
    parser.add_argument(
        "--batmux-python",
        help="the interpreter for batmux's child (default: velib's, with this environment's "
        "packages, when it is the same Python version; else this one)",
    )
    args = parser.parse_args()
    if args.batmux_python is None:
        same = same_python(args.velib_python)
        args.batmux_python = args.velib_python if same else sys.executable
    print(f"batmux runs on {args.batmux_python}, velib on {args.velib_python}")
    if shutil.which("dbus-daemon") is None:
        print("skipped: dbus-daemon is not installed")
        return 0
    probe = subprocess.run(
        [args.velib_python, "-c", "import dbus, gi, vedbus"],
        env={**os.environ, "PYTHONPATH": str(args.velib)},
        capture_output=True,
    )
    if probe.returncode != 0:
        print(f"skipped: velib at {args.velib} with {args.velib_python} does not import")
        return 0
    the_plan = plan()
    changed = [len(r) for r in the_plan["rounds"]]
    print(
        f"{len(the_plan['initial'])} paths; changed per round: median "
        f"{statistics.median(changed):.0f}, min {min(changed)}, max {max(changed)}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="venus-plan-") as tmp:
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(json.dumps(the_plan))
        tools = ["batmux", "velib"] + (["batmux-ref"] if args.ref_src else [])
        tools += ["velib-all"] if args.velib_all else []
        for rep in range(args.repeats):
            for tool in tools if rep % 2 == 0 else tools[::-1]:
                result = run_once(tool, args, plan_file)
                results.append(result)
                print(json.dumps(result), flush=True)
    med = {}
    print("\n| tool | µs CPU per 1 Hz round (min/median/max) | RSS MiB |")
    print("|---|---|---|")
    for tool in tools:
        rows = [r for r in results if r["tool"] == tool]
        us = sorted(r["us_per_round"] for r in rows)
        med[tool] = statistics.median(us)
        rss = statistics.median(r["rss_mib"] for r in rows)
        print(f"| {tool} | {us[0]:.0f}/{med[tool]:.0f}/{us[-1]:.0f} | {rss:.1f} |")
    loads = [x for r in results for x in r["load"]]
    print(f"\nratio batmux ÷ velib: {med['batmux'] / med['velib']:.2f}")
    if args.ref_src:
        print(f"ratio batmux-ref ÷ velib: {med['batmux-ref'] / med['velib']:.2f}")
    if args.velib_all:
        print(f"ratio batmux ÷ velib-all: {med['batmux'] / med['velib-all']:.2f}")
    print(f"load average (1 min): {min(loads):.2f}–{max(loads):.2f}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
