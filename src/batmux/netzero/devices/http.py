"""One HTTP exchange with a DTU or a Shelly, every failure turned into a one-line ``DeviceError``.

aiohttp's exceptions stop here (the link boundary): callers see ``DeviceUnreachable`` (no
connection, timeout: the device is OFFLINE) or ``DeviceError`` (it answered, but with an HTTP
error or something that is not the JSON we need: FAULT).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from batmux.errors import BatmuxError
from batmux.netzero.ports import Clock

T = TypeVar("T")


class DeviceError(BatmuxError):
    """The device answered but the answer is unusable (HTTP status, bad JSON, refused command)."""


class DeviceUnreachable(DeviceError):
    """No answer at all: connection refused or reset, or the timeout ran out."""


def base_url(url: str) -> str:
    """``host:port`` (homebattery's form) or ``http://host`` → ``http://host[:port]``."""
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout_s: float,
    **kwargs: Any,
) -> Any:
    """Send one request and return the decoded JSON body."""
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(method, url, **kwargs) as response:
                body = await response.read()
                status = response.status
    except TimeoutError:
        raise DeviceUnreachable(f"{method} {url}: no answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DeviceUnreachable(f"{method} {url}: {reason}") from None
    if status != 200:
        raise DeviceError(f"{method} {url}: HTTP {status}")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DeviceError(f"{method} {url}: not JSON: {body[:40]!r}") from None


async def with_retries(
    send: Callable[[], Awaitable[T]], clock: Clock, attempts: int, retry_s: float
) -> T:
    """``send()`` up to ``attempts`` times, ``retry_s`` apart (the field's command rule);
    the last ``DeviceError`` when every attempt failed."""
    for _ in range(attempts - 1):
        try:
            return await send()
        except DeviceError:
            await clock.sleep(retry_s)
    return await send()


def number(value: Any, what: str) -> float:
    """A JSON number (bools and NaN refused), else ``DeviceError`` naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise DeviceError(f"{what}: expected a number, got {value!r}")
    return float(value)
