"""batmux side by side with batmon-ha: the same simulated BLE batteries through the same fake BlueZ.

    uv run python bench/bench_vs_field.py [--batmon /tmp/batmon-ha] [--batmon-python PY]
        [--counts 1,8,32,100] [--repeats 3] [--warmup 20] [--seconds 20]
        [--batmux-config 'history: {enabled: false}'] [--only batmux|batmon-ha] [--json FILE]

Every run is a fresh set of processes, none shared between tools:

- a private ``dbus-daemon`` (``sim.fake_bluez.bus``), standing in for the system bus;
- one "radio" process serving N simulated JBD packs (16 cells, sine load) as ``org.bluez`` on it
  (``FakeBlueZ``); it counts the basic-info requests (``DD A5 03``) it answers, whether they
  come as ``WriteValue`` (batmon-ha) or through an ``AcquireWrite`` socket (batmux): one per
  battery-sample for both tools, so both are divided by the same, independently counted
  samples. The fake offers ``AcquireNotify`` like BlueZ, so batmon-ha's bleak (2.0.0) takes
  its notifications through a socket too;
- one mosquitto on a free loopback port, and a listener in this process subscribed to ``#``;
- the gateway under test, with ``DBUS_SYSTEM_BUS_ADDRESS`` pointing at the private bus, so both
  talk to the fake through their real BLE stack (bleak over dbus-fast), as they would to BlueZ.

Both tools: sample period 1 s, publish period 1 s, concurrent sampling, Home Assistant discovery
on (batmon-ha always sends it). batmon-ha gets ``skip-discovery`` (it connects by address, as
batmux does; otherwise it first scans for 5 s) and ``telemetry: false``.

Measured per run: whole-process CPU (all threads of the gateway's pid, from /proc) over
``--seconds`` after ``--warmup``, divided by the samples the radio answered in that window;
VmRSS at the end of the warm-up and again at the end of the window (a long ``--seconds``
gives a steady-state figure: caches that fill over minutes show there); seconds from spawning
the process to its first state message on the broker (the first non-discovery message under a
battery's topic); broker messages and bytes per second in the window. The tools alternate run
by run (the order flips every repeat) and the 1-minute load average is recorded with every run.
The CPU of the radio, dbus-daemon and mosquitto is not counted for either tool.

batmon-ha is not vendored. Get the pinned revision and its requirements into their own venv:

    git clone https://github.com/fl4p/batmon-ha /tmp/batmon-ha
    git -C /tmp/batmon-ha checkout 10bb7331ba329e03e70a9f130d1f11d7f6df74c7
    python3 -m venv /tmp/batmon-venv
    /tmp/batmon-venv/bin/pip install -r /tmp/batmon-ha/requirements.txt

Without it the bench says so and measures batmux alone; without dbus-daemon or mosquitto it says
so and exits 0. A run in which the radio answered nothing is left out of the medians (its logs
are kept in a ``vs-field-nosamples-*`` temp directory).

Bytecode: both tools run with ``PYTHONPYCACHEPREFIX`` set to one cache directory
(``--pycache``), primed with ``compileall`` over each interpreter's ``sys.path`` before the first
run, and ``PYTHONDONTWRITEBYTECODE`` unset. A pip-installed tool ships compiled bytecode; a
process that has to compile its sources at every start (a checkout run with
``PYTHONDONTWRITEBYTECODE=1``) starts slower and ends up several MiB larger, which would measure
the environment, not the tool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
BATMON_COMMIT = "10bb7331ba329e03e70a9f130d1f11d7f6df74c7"
TICK = os.sysconf("SC_CLK_TCK")


def mac(i: int) -> str:
    return f"A4:C1:37:00:{i // 256:02X}:{i % 256:02X}"


def name(i: int) -> str:
    return f"b{i:03d}"


# -- the radio: N simulated JBD packs as BlueZ ------------------------------------------------
async def serve(count: int, bus: str, count_file: Path) -> None:
    from batmux.sim.battery import SimBattery, sine_load
    from batmux.sim.fake_bluez.service import FakeBlueZ
    from batmux.sim.jbd import JbdSimDevice

    answered = [0]

    class Counted(JbdSimDevice):
        def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
            if data[:3] == b"\xdd\xa5\x03":
                answered[0] += 1
            return super().handle_write(char_uuid, data)

    fake = FakeBlueZ(bus)
    await fake.start()
    for i in range(count):
        battery = SimBattery(
            cells=16, soc_pct=30.0 + (i * 7) % 60, current_a=sine_load(10.0, 120.0 + i), seed=i
        )
        fake.add_device(Counted(battery), mac(i), name(i), service_uuid=JBD_SERVICE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    while not stop.is_set():
        tmp = count_file.with_suffix(".tmp")
        tmp.write_text(str(answered[0]))
        tmp.replace(count_file)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    await fake.stop()


JBD_SERVICE = "0000ff00-0000-1000-8000-00805f9b34fb"


# -- measuring a process --------------------------------------------------------------------
def cpu_s(pid: int) -> float:
    """CPU seconds of every thread of ``pid`` so far: the scheduler's ns counters of the live
    threads (/proc/PID/stat's ticks are 10 ms, too coarse for one battery) plus the ticks of
    threads that already ended (stat's total minus the live threads' ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total_ticks = int(fields[11]) + int(fields[12])
    live_ns = live_ticks = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            live_ns += int((task / "schedstat").read_text().split()[0])
            tf = (task / "stat").read_text().rsplit(")", 1)[1].split()
            live_ticks += int(tf[11]) + int(tf[12])
    return live_ns / 1e9 + max(0, total_ticks - live_ticks) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Listener:
    """Everything the broker carries, time-stamped (a paho client in its own thread)."""

    port: int
    log: list[tuple[float, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda _c, _u, m: self.log.append(
            (time.monotonic(), m.topic, len(m.payload))
        )
        self.client.connect("127.0.0.1", self.port)
        self.client.subscribe("#")
        self.client.loop_start()
        time.sleep(0.2)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def is_state(tool: str, topic: str) -> bool:
    if topic.startswith("homeassistant/"):
        return False
    if tool == "batmux":
        return topic.startswith("batmux/b") and topic.endswith("/state")
    parts = topic.split("/")
    return len(parts) >= 2 and parts[0].startswith("b0") and parts[-1] != "availability"


# -- one run --------------------------------------------------------------------------------
def batmux_cmd(work: Path, count: int, port: int, extra: list[str]) -> list[str]:
    lines = [
        f"state_dir: {work / 'state'}",
        *extra,
        "sample_period: 1",
        "publish_period: 1",
        "batteries:",
    ]
    for i in range(count):
        lines += [f"  - name: {name(i)}", "    type: jbd", f'    address: "{mac(i)}"']
    lines += ["mqtt:", f"  url: mqtt://127.0.0.1:{port}", "  discovery: true"]
    cfg = work / "batmux.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    return [sys.executable, "-m", "batmux.cli", "run", "-c", str(cfg)]


def batmon_cmd(work: Path, count: int, port: int, repo: Path, python: str) -> list[str]:
    options = {
        "devices": [{"address": mac(i), "type": "jbd", "alias": name(i)} for i in range(count)],
        "mqtt_broker": "127.0.0.1",
        "mqtt_port": port,
        "mqtt_user": "",
        "mqtt_password": "",
        "ble_stack": "bleak",
        "sample_period": 1.0,
        "publish_period": 1.0,
        "expire_values_after": 20,
        "invert_current": False,
        "keep_alive": True,
        "watchdog": False,
        "concurrent_sampling": True,
        "verbose_log": False,
        "telemetry": False,
    }
    (work / "options.json").write_text(json.dumps(options))
    return [python, str(repo / "main.py"), "skip-discovery"]


def bytecode_env(prefix: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    return env


def prime_bytecode(python: str, extra: list[Path], prefix: Path) -> None:
    """Compile everything ``python`` can import (and ``extra``) into the cache at ``prefix``."""
    paths = subprocess.run(
        [python, "-c", "import sys, json; print(json.dumps([p for p in sys.path if p]))"],
        capture_output=True,
        text=True,
        check=True,
        env=bytecode_env(prefix),
    ).stdout
    targets = [p for p in json.loads(paths) if Path(p).is_dir()] + [str(p) for p in extra]
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", *targets],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=bytecode_env(prefix),
    )


def read_count(path: Path) -> int:
    for _ in range(50):
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(path.read_text())
        time.sleep(0.02)
    raise RuntimeError("the radio process wrote no count")


def stop_proc(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_once(tool: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    from batmux.sim.fake_bluez.bus import start_private_bus
    from broker_process import free_port, mosquitto_binary, start_mosquitto, write_mosquitto_conf

    procs: list[subprocess.Popen[Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"vs-field-{tool}-") as tmp:
        work = Path(tmp)
        try:
            bus_proc, bus = start_private_bus(work)
            procs.append(bus_proc)
            count_file = work / "answered"
            radio = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(count), "--bus", bus],
                stdout=subprocess.PIPE,
                stderr=open(work / "radio.log", "w"),  # noqa: SIM115 - lives as long as the run
                text=True,
                env={**os.environ, "VS_FIELD_COUNT_FILE": str(count_file)},
            )
            procs.append(radio)
            assert radio.stdout is not None and radio.stdout.readline().strip() == "ready"
            port = free_port()
            binary = mosquitto_binary()
            assert binary is not None
            procs.append(start_mosquitto(binary, write_mosquitto_conf(work, port), port))
            listener = Listener(port)
            if tool == "batmux":
                cmd = batmux_cmd(work, count, port, args.batmux_config)
            else:
                cmd = batmon_cmd(work, count, port, args.batmon, args.batmon_python)
            env = {**bytecode_env(args.pycache), "DBUS_SYSTEM_BUS_ADDRESS": bus}
            env["PYTHONUNBUFFERED"] = "1"
            log = open(work / f"{tool}.log", "w")  # noqa: SIM115
            t0 = time.monotonic()
            gw = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(gw)
            time.sleep(args.warmup)
            if gw.poll() is not None:
                raise RuntimeError(f"{tool} exited: {(work / f'{tool}.log').read_text()[-2000:]}")
            rss = rss_mib(gw.pid)
            c0, n0, m0, ld0 = cpu_s(gw.pid), read_count(count_file), len(listener.log), load1()
            time.sleep(args.seconds)
            c1, n1, m1, ld1 = cpu_s(gw.pid), read_count(count_file), len(listener.log), load1()
            rss_end = rss_mib(gw.pid)
            window = listener.log[m0:m1]
            states = [t for t, topic, _ in listener.log if is_state(tool, topic)]
            firsts: dict[str, float] = {}
            for t, topic, _ in listener.log:
                if is_state(tool, topic):
                    battery = next(p for p in topic.split("/") if p.startswith("b0"))
                    firsts.setdefault(battery, t - t0)
            listener.close()
            samples = n1 - n0
            if samples == 0:  # keep the logs of a run that sampled nothing, for a look later
                keep = Path(tempfile.mkdtemp(prefix=f"vs-field-nosamples-{tool}-{count}-"))
                for log_file in work.glob("*.log"):
                    shutil.copy(log_file, keep)
                print(f"no samples in the window; logs kept in {keep}", file=sys.stderr)
            return {
                "tool": tool,
                "n": count,
                "cpu_s": c1 - c0,
                "samples": samples,
                "us_per_sample": 1e6 * (c1 - c0) / samples if samples else float("nan"),
                "samples_per_s": samples / args.seconds,
                "rss_mib": rss,
                "rss_end_mib": rss_end,
                "first_state_s": (states[0] - t0) if states else float("nan"),
                "all_states_s": max(firsts.values()) if len(firsts) == count else float("nan"),
                "msgs_per_s": len(window) / args.seconds,
                "bytes_per_s": sum(b for _, _, b in window) / args.seconds,
                "load": (ld0, ld1),
            }
        finally:
            for proc in reversed(procs):
                stop_proc(proc)


# -- the table ------------------------------------------------------------------------------
def mmm(values: list[float], fmt: str = "{:.0f}") -> str:
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: list[dict[str, Any]], counts: list[int]) -> None:
    print("\nmin/median/max over the repeats; ratio = median batmux ÷ median batmon-ha")
    cols = ("µs/sample", "samples/s", "RSS MiB", "RSS end MiB", "first state s", "msgs/s")
    keys = (
        "us_per_sample",
        "samples_per_s",
        "rss_mib",
        "rss_end_mib",
        "first_state_s",
        "msgs_per_s",
    )
    fmts = ("{:.0f}", "{:.1f}", "{:.1f}", "{:.1f}", "{:.2f}", "{:.0f}")
    print("| N | tool | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    ratios = []
    for n in counts:
        med: dict[str, dict[str, float]] = {}
        for tool in ("batmux", "batmon-ha"):
            rows = [r for r in results if r["n"] == n and r["tool"] == tool]
            if not rows:
                continue
            cells = [mmm([r[k] for r in rows], f) for k, f in zip(keys, fmts, strict=True)]
            print(f"| {n} | {tool} | " + " | ".join(cells) + " |")
            # a run without samples has no CPU per sample: it is left out of the median
            med[tool] = {k: _median([r[k] for r in rows if r[k] == r[k]]) for k in keys}
            failed = sum(1 for r in rows if not r["samples"])
            if failed:
                print(f"| {n} | {tool} | {failed} of {len(rows)} runs: no samples in the window |")
        if len(med) == 2:
            ratios.append((n, {k: med["batmux"][k] / med["batmon-ha"][k] for k in keys}))
    print("\n| N | CPU/sample | RSS | RSS end | first state | msgs/s |")
    print("|---|---|---|---|---|---|")
    for n, r in ratios:
        print(
            f"| {n} | {r['us_per_sample']:.2f} | {r['rss_mib']:.2f} | {r['rss_end_mib']:.2f} | "
            f"{r['first_state_s']:.2f} | {r['msgs_per_s']:.2f} |"
        )
    loads = [x for r in results for x in r["load"]]
    print(f"\nload average (1 min) during the runs: {min(loads):.2f}–{max(loads):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batmon", type=Path, default=Path("/tmp/batmon-ha"))
    parser.add_argument("--batmon-python", default="/tmp/batmon-venv/bin/python")
    parser.add_argument("--counts", default="1,8,32,100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--batmux-config",
        action="append",
        default=[],
        metavar="LINE",
        help="an extra top-level YAML line for batmux (repeatable): 'history: {enabled: false}'",
    )
    parser.add_argument("--only", choices=("batmux", "batmon-ha"), help="run one tool only")
    parser.add_argument("--json", type=Path, help="append every run's result here")
    pyc = Path(tempfile.gettempdir()) / "vs-field-pyc"
    parser.add_argument("--pycache", type=Path, default=pyc, help="the bytecode cache both use")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.bus, Path(os.environ["VS_FIELD_COUNT_FILE"])))
        return 0

    from broker_process import mosquitto_binary

    missing = []
    if shutil.which("dbus-daemon") is None:
        missing.append("dbus-daemon")
    if mosquitto_binary() is None:
        missing.append("mosquitto")
    tools = ["batmux", "batmon-ha"]
    if not (args.batmon / "main.py").exists() or not Path(args.batmon_python).exists():
        print(f"batmon-ha not found at {args.batmon} (see this file's docstring): batmux only")
        tools = ["batmux"]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed")
        return 0
    if args.only:
        tools = [args.only]
    counts = [int(c) for c in args.counts.split(",")]
    prime_bytecode(sys.executable, [ROOT / "src"], args.pycache)
    if "batmon-ha" in tools:
        prime_bytecode(args.batmon_python, [args.batmon], args.pycache)
    results = []
    for n in counts:
        for rep in range(args.repeats):
            for tool in tools if rep % 2 == 0 else tools[::-1]:
                result = run_once(tool, n, args)
                results.append(result)
                print(json.dumps(result), flush=True)
                if args.json:
                    with args.json.open("a") as f:
                        f.write(json.dumps(result) + "\n")
    report(results, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
