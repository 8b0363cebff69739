"""Shared shell of the REST device simulators (AhoyDTU, OpenDTU, Shelly): an aiohttp server
on loopback that records every request and can misbehave on purpose.

Fault knobs: ``fail_status`` (answer every request with that HTTP status), ``fail_next`` (the next
n requests get HTTP 500), ``garbage`` (a body that is not JSON), ``hang_s`` (answer that many
real seconds late, for client timeouts), ``drop_off()`` / ``come_back()`` (the port closes and
reopens: connection refused in between).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from batmux.netzero.ports import Clock, MonotonicClock


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # path with query string
    body: str
    content_type: str
    authorization: str | None


class HttpDeviceSim:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or MonotonicClock()
        self.requests: list[tuple[str, str, str]] = []  # (method, path?query, body)
        self.details: list[RecordedRequest] = []
        self.record = True  # False for long simulated runs (the lists would only grow)
        self.fail_status: int | None = None
        self.fail_next = 0
        self.garbage = False
        self.hang_s = 0.0
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner, self.host = runner, host
        self.port = runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def drop_off(self) -> None:
        """The device disappears from the network (its port refuses connections)."""
        await self.stop()

    async def come_back(self) -> None:
        await self.start(self.host, self.port)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.text()
        if self.record:
            self.requests.append((request.method, request.path_qs, body))
            self.details.append(
                RecordedRequest(
                    request.method,
                    request.path_qs,
                    body,
                    request.headers.get("Content-Type", ""),
                    request.headers.get("Authorization"),
                )
            )
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="Internal Server Error")
        if self.fail_status is not None:
            return web.Response(status=self.fail_status, text="error")
        if self.garbage:
            return web.Response(text='{"status": 2, "ch": [[1, 2', content_type="application/json")
        return await handler(request)
