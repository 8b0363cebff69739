"""Fixtures for source tests: a socat pty pair and a private mosquitto broker on loopback."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker_process import free_port, mosquitto_binary, start_mosquitto, stop, write_mosquitto_conf

PTY_LINE = re.compile(rb"PTY is (\S+)")


@pytest.fixture
def pty_pair() -> Iterator[tuple[str, str]]:
    """Two connected pty paths from ``socat -d -d pty,raw,echo=0 pty,raw,echo=0``."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed (apt install socat)")
    proc = subprocess.Popen(
        ["socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        paths: list[str] = []
        deadline = time.monotonic() + 5
        while len(paths) < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            match = PTY_LINE.search(line)
            if match:
                paths.append(match.group(1).decode())
        if len(paths) < 2:
            pytest.fail("socat did not report two ptys")
        yield paths[0], paths[1]
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)


class Broker:
    """A mosquitto process that tests may stop and start again on the same port."""

    def __init__(self, directory: Path, binary: str) -> None:
        self.port = free_port()
        self.binary = binary
        self.config = write_mosquitto_conf(directory, self.port)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_mosquitto(self.binary, self.config, self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


@pytest.fixture
def json_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto for the MQTT JSON tests (not the lead's shared fixture)."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    broker = Broker(tmp_path, binary)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
