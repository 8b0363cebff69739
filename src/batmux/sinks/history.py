"""The history sink: every publish round into the SQLite store, off the event loop.

Rows are built on the loop (cheap: a tuple per battery) and gathered for ``FLUSH_EVERY_S``;
the INSERTs, the commit and the periodic roll-up run in one dedicated worker thread, the only
thread that touches the store. A query or a stop writes the gathered rows first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batmux.sinks.history_store import HistoryStore, Row, open_store, state_row

log = logging.getLogger(__name__)

MAINTAIN_EVERY_S = 60.0  # roll-up and retention run at most this often
# Rows wait in memory at most this long: one thread hand-off and one commit per 10 rounds
# instead of per round. A crash or power cut loses at most these seconds of history; the
# meters are saved on their own.
FLUSH_EVERY_S = 10.0


class HistoryWriter:
    """Owns the store and its thread; the web API reads through ``query``.

    The store is opened on first use, in the worker thread: wiring a gateway creates no file.
    ``close()`` (when the sink stops) closes it and ends the thread; a later call reopens both.
    """

    def __init__(self, open_fn: Callable[[], HistoryStore]) -> None:
        self._open = open_fn
        self._store: HistoryStore | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.last_maintain = float("-inf")
        self._pending: list[Row] = []
        self._pending_rounds = 0
        self._flushed_at = float("-inf")
        self.rounds = 0
        self.errors = 0
        self.last_error = ""

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        return self._executor

    @property
    def store(self) -> HistoryStore:
        if self._store is None:
            self._store = self._open()
        return self._store

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _write(self, rows: list[Row], now: float | None) -> None:
        self.store.write_round(rows)
        if now is not None and now - self.last_maintain >= MAINTAIN_EVERY_S:
            self.last_maintain = now
            self.store.maintain(now)

    async def write(self, rows: list[Row], now: float) -> None:
        """Gather one round; write what was gathered every ``FLUSH_EVERY_S`` (the first at once)."""
        self._pending.extend(rows)
        self._pending_rounds += 1
        if now - self._flushed_at >= FLUSH_EVERY_S:
            self._flushed_at = now
            await self.flush(now)

    async def flush(self, now: float | None = None) -> None:
        rows, rounds = self._pending, self._pending_rounds
        self._pending, self._pending_rounds = [], 0
        try:
            await self.call(self._write, rows, now)
        except Exception as exc:  # sqlite3.Error, OSError: a full disk must not stop the rest
            self.errors += 1
            if str(exc) != self.last_error:  # once per distinct error, not once per round
                log.warning("history: %s", exc)
            self.last_error = str(exc)
        else:
            self.rounds += rounds

    async def query(
        self, battery: str, start: float, end: float, values: Any, points: int | None = None
    ) -> Any:
        if self._pending:
            await self.flush()
        if points is None:
            return await self.call(lambda: self.store.query(battery, start, end, values))
        return await self.call(
            lambda: self.store.query_thinned(battery, start, end, values, points)
        )

    def status(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "errors": self.errors, "last_error": self.last_error}

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        """Write the gathered rows and close the store after the queued work, in its thread;
        do not wait for it."""
        if self._pending:
            rows, self._pending, self._pending_rounds = self._pending, [], 0
            self.executor.submit(self._write, rows, None)
        if self._executor is not None:
            self._executor.submit(self._close_store)
            self._executor.shutdown(wait=False)
            self._executor = None


def attach_history(gateway: Any) -> HistoryWriter:
    """Register the history sink on ``gateway``; the returned writer also serves queries."""
    config = gateway.config
    writer = HistoryWriter(lambda: open_store(config.history, config.state_dir))

    async def run(gw: Any) -> None:
        try:
            async for snapshot in gw.hub.updates():
                now = gw.clock()
                rows = [r for r in (state_row(s, now) for s in snapshot.values()) if r]
                await writer.write(rows, now)
        finally:
            writer.close()  # a running write finishes first; the thread then ends

    gateway.add_sink("history", run)
    return writer
