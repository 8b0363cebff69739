"""Helpers of the fault-injection suite: ``batmux run`` as a child process, a retained-state
watcher that records every payload with its arrival time, and a figure reporter.

Figures (seconds to the safe state, to recovery, what was lost) are printed with ``-s`` and
written to ``$BATMUX_FAULT_FIGURES`` (a JSON-lines file) when that is set, so
docs/robustness.md can quote a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import yaml


def start_batmux(config: dict[str, Any], workdir: Path, name: str) -> subprocess.Popen[bytes]:
    """``batmux run`` on ``config`` (saved as ``<name>.yaml``), stderr in ``<name>.log``."""
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "batmux.cli", "run", "-c", str(path)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    finally:
        log.close()


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Watcher:
    """Every message on the subscribed topics, in order, with its arrival time."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.port = port
        self.topics = topics
        self.log: list[tuple[float, str, bytes]] = []
        self.connected = asyncio.Event()

    def last(self, topic: str) -> bytes | None:
        for _, t, payload in reversed(self.log):
            if t == topic:
                return payload
        return None

    def last_json(self, topic: str) -> Any:
        payload = self.last(topic)
        return json.loads(payload) if payload else None

    def values(self, topic: str, key: str) -> list[Any]:
        out = []
        for _, t, payload in self.log:
            if t == topic and payload:
                value = json.loads(payload).get(key)
                if value is not None:
                    out.append(value)
        return out

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port) as client:
                    for topic in self.topics:
                        await client.subscribe(topic)
                    self.connected.set()
                    async for message in client.messages:
                        payload = bytes(message.payload or b"")
                        self.log.append((time.monotonic(), str(message.topic), payload))
            except aiomqtt.MqttError:
                self.connected.clear()
                await asyncio.sleep(0.1)

    async def until(self, check: Callable[[], bool], timeout: float) -> float:
        """Wait for ``check()``; returns the monotonic time it first held."""
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)
        return time.monotonic()


@contextlib.asynccontextmanager
async def watching(port: int, topics: list[str]) -> AsyncIterator[Watcher]:
    watcher = Watcher(port, topics)
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.connected.wait(), 10)
        yield watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def report(scenario: str, **figures: Any) -> None:
    """Print one scenario's figures (and append them to $BATMUX_FAULT_FIGURES)."""
    line = {"scenario": scenario, **figures}
    print(f"\nFAULT FIGURES {json.dumps(line)}")
    out = os.environ.get("BATMUX_FAULT_FIGURES")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps(line) + "\n")


def safe_group(state: Any) -> bool:
    """The stale state every output must carry: unavailable, 0 A both ways, reason stale."""
    return (
        state is not None
        and state.get("available") is False
        and state.get("charge_current_limit") == 0
        and state.get("discharge_current_limit") == 0
        and state.get("limit_reason") == "stale"
    )
