"""``/api/events``: the publish rounds as server-sent events, for the dashboard's live view.

Each client reads the hub through its own bounded feed (a slow client skips rounds, it never
holds the gateway up). One ``state`` event per publish round carries every battery and group
(the ``/api/batteries`` objects) and the link and sink status; the JSON of a round is built
once and shared by all clients. A comment line every ``KEEPALIVE_S`` keeps proxies from
closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from batmux.sinks import json_text
from batmux.web.api import batteries_json

KEEPALIVE_S = 15.0
WRITE_TIMEOUT_S = 10.0  # a client that takes longer to accept one event is dropped
RETRY_MS = 2000  # the browser's reconnect delay after the stream ends


class EventFeed:
    """Serves the stream and remembers the last round's encoded event (shared by clients)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.clients: set[asyncio.Task[Any]] = set()
        self._last: tuple[object, bytes] | None = None
        self.events_sent = 0

    def encode(self, snapshot: dict[str, Any]) -> bytes:
        if self._last is not None and self._last[0] is snapshot:
            return self._last[1]
        body = {
            "time": time.time(),
            "batteries": batteries_json(list(snapshot.values())),
            "links": self.ctx.link_status(),
            "sinks": self.ctx.sink_status(),
        }
        data = f"event: state\ndata: {json_text.dumps(body)}\n\n".encode()
        self._last = (snapshot, data)
        return data

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx and HA ingress: pass each event on at once
            }
        )
        await response.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self.clients.add(task)
        updates = self.ctx.gateway.hub.updates()
        pending: asyncio.Future[Any] | None = None
        try:
            await _write(response, f"retry: {RETRY_MS}\n\n".encode())
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(updates))
                # wait() rather than a timeout on anext(): a cancelled anext would end the feed
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
                if not done:
                    await _write(response, b": keepalive\n\n")
                    continue
                snapshot, pending = pending.result(), None
                await _write(response, self.encode(snapshot))
                self.events_sent += 1
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stalled; it reconnects on its own
        finally:
            self.clients.discard(task)
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            await updates.aclose()
        return response

    async def close_all(self, _app: web.Application) -> None:
        """``on_shutdown``: end every open stream so the server stops at once."""
        for task in list(self.clients):
            task.cancel()


async def _write(response: web.StreamResponse, data: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await response.write(data)
