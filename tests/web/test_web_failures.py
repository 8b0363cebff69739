"""The web server when what stands behind it fails: a BMS write that errors or hangs, a history
store that cannot be read, and ``Host`` headers the switch endpoint must or must not trust.
A stub gateway (no devices) is injected through ``WebContext``; the HTTP side is real."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from batmux.errors import ControlRefused, LinkError
from batmux.runtime.hub import StateHub
from batmux.sinks.observe_config import WebConfig
from batmux.web.server import WebContext, _direct_host, build_app


class StubGateway:
    """What the web server reads of a gateway, with a ``request_switch`` that does ``outcome``
    (the queue in front of the write is tested in tests/sinks/test_switch_commands.py)."""

    def __init__(self, outcome: BaseException | None) -> None:
        self.hub = StateHub()
        self.clock = time.time
        self.link_status: dict[str, Any] = {}
        self.batteries = {"rv": SimpleNamespace(cfg=SimpleNamespace(timeout=0.2, type="jbd"))}
        self.outcome = outcome

    async def request_switch(self, name: str, switch: str, on: bool, reason: str) -> bool:
        if self.outcome is None:
            await asyncio.sleep(10)  # a BMS that never answers
        raise self.outcome


class BrokenHistory:
    async def query(self, *args: Any) -> Any:
        raise sqlite3.DatabaseError("file is not a database")


def client(outcome: BaseException | None = None) -> TestClient[Any, Any]:
    ctx = WebContext(StubGateway(outcome), WebConfig(), history=BrokenHistory())
    return TestClient(TestServer(build_app(ctx)))


@pytest.mark.parametrize(
    ("outcome", "status", "words"),
    [
        (LinkError("no reply from the BMS"), 502, "LinkError: no reply"),
        (None, 502, "TimeoutError"),  # the write hangs past the battery's timeout
        (ControlRefused("rv: allow_control is not set"), 403, "allow_control"),
    ],
)
async def test_a_failing_switch_write_is_an_error_answer(
    outcome: BaseException | None, status: int, words: str
) -> None:
    async with client(outcome) as http:
        response = await http.post("/api/batteries/rv/switch/charge", json={"on": True})
        assert response.status == status
        assert words in (await response.json())["error"]


async def test_an_unreadable_history_is_a_503_not_a_crash() -> None:
    async with client() as http:
        response = await http.get("/api/history?battery=rv&hours=1")
        assert response.status == 503
        assert "file is not a database" in (await response.json())["error"]
        assert (await http.get("/api/batteries")).status == 200  # the rest still answers


@pytest.mark.parametrize(
    ("host", "direct"),
    [
        ("localhost", True),
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("192.168.1.20", True),
        ("[::1]:8080", True),
        ("[::1]", True),
        ("attacker.example", False),
        ("attacker.example:8080", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:8080", False),
        ("", False),
    ],
)
def test_only_loopback_names_and_ip_literals_count_as_direct(host: str, direct: bool) -> None:
    assert _direct_host(host) is direct
