"""Shared fixtures: paths to shared/ vectors, a real MQTT broker, a free-port helper.

The broker fixture starts mosquitto on a free loopback port when it is installed (CI installs
it) and the embedded broker otherwise, so ``uv run pytest`` passes on a fresh machine too.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from batmux.links.mqtt_broker import EmbeddedBroker
from broker_process import (
    free_port,
    mosquitto_binary,
    start_mosquitto,
    stop,
    write_mosquitto_conf,
)
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


@dataclass
class Broker:
    host: str
    port: int
    kind: str
    _process: subprocess.Popen[bytes] | None = None
    _embedded: EmbeddedBroker | None = None
    _conf: Path | None = None
    _binary: str = "mosquitto"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop_process(self) -> None:
        if self._process is not None:
            stop(self._process)

    def start_process(self) -> None:
        assert self._conf is not None
        self._process = start_mosquitto(self._binary, self._conf, self.port)

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


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    port = free_port()
    binary = mosquitto_binary()
    if binary and os.environ.get("BATMUX_TEST_BROKER") != "embedded":
        conf = write_mosquitto_conf(tmp_path, port)
        b = Broker("127.0.0.1", port, "mosquitto", _conf=conf, _binary=binary)
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
