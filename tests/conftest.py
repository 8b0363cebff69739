"""Shared fixtures: paths to shared/ vectors, a real MQTT broker, a free-port helper.

The broker fixture starts mosquitto on a free loopback port when it is installed (CI installs
it) and the embedded broker otherwise, so ``uv run pytest`` passes on a fresh machine too.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from batmux.links.mqtt_broker import EmbeddedBroker
from shared_dir import find_shared

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("fuzz", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parents[1]
SHARED = find_shared()
VECTORS = SHARED / "vectors"


def load_vectors(kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    folder = VECTORS / kind
    return [(p.stem, json.loads(p.read_text())) for p in sorted(folder.glob(f"{prefix}*.json"))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Broker:
    host: str
    port: int
    kind: str
    _process: subprocess.Popen[bytes] | None = None
    _embedded: EmbeddedBroker | None = None
    _conf: Path | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop_process(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(5)

    def start_process(self) -> None:
        assert self._conf is not None
        self._process = subprocess.Popen(
            ["mosquitto", "-c", str(self._conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    async def restart(self) -> None:
        """Stop the broker and start it again on the same port (retained messages are lost)."""
        if self._embedded is not None:
            await self._embedded.stop()
            self._embedded = EmbeddedBroker(self.host, self.port)
            await asyncio.sleep(0.5)
            await self._embedded.start()
        else:
            self.stop_process()
            await asyncio.sleep(0.5)
            self.start_process()


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"broker did not open port {port}")


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    port = free_port()
    binary = _mosquitto()
    if binary and os.environ.get("BATMUX_TEST_BROKER") != "embedded":
        conf = tmp_path / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        b = Broker("127.0.0.1", port, "mosquitto", _conf=conf)
        os.environ["PATH"] = os.environ["PATH"] + ":/usr/sbin"
        b.start_process()
        try:
            yield b
        finally:
            b.stop_process()
    else:
        embedded = EmbeddedBroker("127.0.0.1", port)
        await embedded.start()
        b = Broker("127.0.0.1", port, "embedded", _embedded=embedded)
        try:
            yield b
        finally:
            if b._embedded is not None:
                await b._embedded.stop()


@pytest.fixture
def fixed_clock() -> Iterator[list[float]]:
    """A settable clock: ``clock[0]`` is the time; pass ``lambda: clock[0]``."""
    yield [1_700_000_000.0]
