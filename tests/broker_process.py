"""Start an MQTT broker process on a free loopback port (tests and bench/bench_pipeline.py).

mosquitto when it is installed (CI installs it), otherwise batmux's embedded broker in a child
Python process, so the broker's CPU is never counted in the caller's process.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

_EMBEDDED = (
    "import asyncio\nfrom batmux.links.mqtt_broker import EmbeddedBroker\n"
    "async def main():\n"
    "    async with EmbeddedBroker(port={port}):\n"
    "        await asyncio.Event().wait()\n"
    "asyncio.run(main())\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"broker did not open port {port}")


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    return found or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def write_mosquitto_conf(workdir: Path, port: int) -> Path:
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return conf


def start_mosquitto(binary: str, conf: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_port(port)
    return proc


def start_embedded(port: int) -> subprocess.Popen[bytes]:
    code = _EMBEDDED.format(port=port)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
