"""Fixtures for source tests: a socat pty pair and a private mosquitto broker on loopback."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A mosquitto process that tests may stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3)
            self.proc = None


@pytest.fixture
def json_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto for the MQTT JSON tests (not the lead's shared fixture)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    broker = Broker(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
