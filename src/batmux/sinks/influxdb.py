"""InfluxDB output: each publish round as line protocol, v1 ``/write`` or v2 ``/api/v2/write``.

Every round is appended to a bounded ``LineBuffer``; a sender task posts the oldest lines in
batches and removes them only after a 2xx answer, so points arrive in publish order. While the
server is down or answers garbage/5xx, the buffer goes to disk and the sender retries with
backoff; a 400 (the server refuses the points themselves) drops that batch, counted as
``rejected`` — retrying it would block everything behind it forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from batmux.sinks.influx_line import round_lines
from batmux.sinks.line_buffer import LineBuffer
from batmux.sinks.observe_config import InfluxConfig

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def write_request(config: InfluxConfig) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL, query parameters, headers) of a write for ``config`` (pure)."""
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if config.is_v2:
        params = {"org": config.org or "", "bucket": config.bucket or "", "precision": "ms"}
        if config.token:
            headers["Authorization"] = f"Token {config.token}"
        return f"{config.url}/api/v2/write", params, headers
    params = {"db": config.database or "", "precision": "ms"}
    if config.retention_policy:
        params["rp"] = config.retention_policy
    if config.username is not None:
        params["u"] = config.username
        params["p"] = config.password or ""
    return f"{config.url}/write", params, headers


class InfluxSink:
    def __init__(
        self,
        config: InfluxConfig,
        buffer_dir: str | Path,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self.config = config
        self.backoff_s = backoff_s
        self.buffer = LineBuffer(buffer_dir, config.buffer_points)
        self.url, self.params, self.headers = write_request(config)
        self.sent = 0
        self.rejected = 0
        self.errors = 0
        self.last_error = ""
        self.connected = False
        self._wake = asyncio.Event()
        self._dropped_logged = 0

    def status(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "points_sent": self.sent,
            "points_buffered": self.buffer.points,
            "points_dropped": self.buffer.dropped,
            "points_rejected": self.rejected,
            "errors": self.errors,
            "last_error": self.last_error,
        }

    def add_round(self, states: Any, t: float) -> None:
        self.buffer.append(round_lines(states, self.config.measurement, t))
        if self.buffer.dropped > self._dropped_logged:
            log.warning(
                "influxdb: buffer full (%d points): %d oldest points dropped so far",
                self.config.buffer_points,
                self.buffer.dropped,
            )
            self._dropped_logged = self.buffer.dropped
        if not self.connected:
            self._persist()
        self._wake.set()

    def _persist(self) -> None:
        try:
            self.buffer.persist()
        except OSError as exc:
            log.warning("influxdb: cannot write the buffer to disk: %s", exc)

    async def _post(self, session: aiohttp.ClientSession, lines: list[str]) -> bool:
        """True when the batch is done with (written, or refused for good)."""
        body = ("\n".join(lines) + "\n").encode()
        try:
            async with session.post(
                self.url, params=self.params, data=body, headers=self.headers
            ) as response:
                text = (await response.text(errors="replace"))[:200]
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        if 200 <= status < 300:
            self.connected = True
            self.sent += len(lines)
            return True
        if status == 400:  # the points themselves are refused (e.g. a field changed type)
            self.rejected += len(lines)
            self._failed(f"HTTP 400, {len(lines)} points refused: {text}")
            return True
        self._failed(f"HTTP {status}: {text}")
        return False

    def _failed(self, reason: str) -> None:
        if self.connected or reason != self.last_error:
            log.warning("influxdb: %s", reason)
        self.connected = False
        self.errors += 1
        self.last_error = reason

    async def sender(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        failures = 0
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not len(self.buffer):
                    self._wake.clear()
                    await self._wake.wait()
                count, lines = self.buffer.head(self.config.batch_size)
                if await self._post(session, lines):
                    self.buffer.pop(count)
                    failures = 0
                    continue
                self._persist()
                delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
                failures += 1
                await asyncio.sleep(delay)

    async def run(self, gateway: Any) -> None:
        sender = asyncio.create_task(self.sender(), name="influxdb-sender")
        try:
            async for snapshot in gateway.hub.updates():
                self.add_round(snapshot.values(), gateway.clock())
                if sender.done():  # an unexpected error: let the supervisor restart us
                    sender.result()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._persist()  # unsent points survive a restart
