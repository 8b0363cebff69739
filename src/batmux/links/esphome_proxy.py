"""One ESPHome Bluetooth proxy as the gateway sees it: an API session that keeps itself up.

``EspHomeProxy`` holds one aioesphomeapi ``APIClient`` (plaintext with an optional password, or
Noise with the device's base64 encryption key) and keeps it connected: a proxy that reboots or
drops off Wi-Fi is reconnected with backoff by itself, and every ``ProxyLink`` using it learns
at once that its BLE connection went with it. While up it listens to the advertisements the
proxy forwards (raw ones where the firmware offers them) and to its free connection slots, so
links can find a device, pick the path that hears it best and not ask a full proxy.

A proxy that refuses our credentials (wrong encryption key, plaintext vs encrypted mismatch,
wrong password) is not a network problem: it gets one clear ERROR line per cause and is retried
only every ``auth_retry_s`` (the user has to fix the config or the device).

aioesphomeapi's exceptions stay in this module and ``esphome_link``: the rest of batmux sees
``LinkError`` subclasses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batmux.errors import DeviceNotFound, LinkError
from batmux.protocols import ble_ad

if TYPE_CHECKING:
    from aioesphomeapi import APIClient

log = logging.getLogger(__name__)

RAW_ADVERTISEMENTS = 1 << 5  # BluetoothProxyFeature.RAW_ADVERTISEMENTS
ACTIVE_CONNECTIONS = 1 << 1


class ProxyOffline(LinkError):
    """The proxy's API connection is down (rebooting, off Wi-Fi, refused credentials)."""


class NoFreeSlot(LinkError):
    """The proxy has no free BLE connection slot."""


@dataclass(frozen=True, slots=True)
class Heard:
    """The latest advertisement of one device through one proxy."""

    mac: str
    rssi: int
    address_type: int
    name: str | None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    at: float = 0.0


def mac_text(address: int) -> str:
    text = f"{address:012X}"
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


def _credential_problem(exc: BaseException) -> str | None:
    """A short stable key if ``exc`` means our credentials do not fit the device."""
    from aioesphomeapi.core import (
        EncryptionHelloAPIError,
        EncryptionPlaintextAPIError,
        InvalidAuthAPIError,
        InvalidEncryptionKeyAPIError,
        RequiresEncryptionAPIError,
    )

    if isinstance(exc, InvalidEncryptionKeyAPIError):
        return (
            "wrong encryption key (compare encryption_key: with the device's api: encryption: key:)"
        )
    if isinstance(exc, RequiresEncryptionAPIError | EncryptionHelloAPIError):
        return "the device is encrypted and no matching encryption_key: is configured"
    if isinstance(exc, EncryptionPlaintextAPIError):
        return "the device is not encrypted: use password: (or nothing) instead of encryption_key:"
    if isinstance(exc, InvalidAuthAPIError):
        return "wrong password"
    return None


class EspHomeProxy:
    """A self-reconnecting API session to one ESPHome Bluetooth proxy."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int = 6053,
        encryption_key: str | None = None,
        password: str | None = None,
        retry_s: tuple[float, float] = (0.5, 30.0),
        auth_retry_s: float = 300.0,
        keepalive_s: float = 10.0,  # a silent drop (Wi-Fi gone, no TCP reset) is noticed
        # after 4.5 keepalives without an answer (aioesphomeapi's ratio): 45 s
        connect_timeout_s: float = 10.0,
        heard_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.encryption_key = encryption_key
        self.password = password
        self.retry_s = retry_s
        self.auth_retry_s = auth_retry_s
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self.heard_ttl_s = heard_ttl_s
        self._clock = clock
        self.client: APIClient | None = None
        self.features = 0
        self.free: int | None = None  # None until the proxy has said (after each reconnect)
        self.limit = 0
        self.heard: dict[str, Heard] = {}
        self.listeners: set[Callable[[Heard], None]] = set()
        self.on_lost: set[Callable[[], None]] = set()  # links whose connections die with us
        self.sessions = 0  # API sessions established
        self.last_error = ""
        self._online = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._logged: str | None = None  # the problem we logged and have not seen recover

    def __repr__(self) -> str:
        return f"EspHomeProxy({self.name!r}, {self.host}:{self.port})"

    @property
    def online(self) -> bool:
        return self.client is not None and self._online.is_set()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the session in the current event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._online = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=repr(self))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_session()

    async def wait_online(self, timeout: float) -> APIClient:
        self.start()
        try:
            async with asyncio.timeout(timeout):
                await self._online.wait()
        except TimeoutError:
            detail = f": {self.last_error}" if self.last_error else ""
            raise ProxyOffline(
                f"proxy {self.name} ({self.host}:{self.port}) is offline{detail}"
            ) from None
        assert self.client is not None
        return self.client

    # -- what the proxy hears --------------------------------------------------------------
    def lookup(self, address: str) -> Heard | None:
        """The freshest advertisement of ``address`` (a MAC or an advertised name)."""
        heard = self.heard.get(address.upper())
        if heard is None:
            heard = next((h for h in self.heard.values() if h.name == address), None)
        if heard is None or self._clock() - heard.at > self.heard_ttl_s:
            return None
        return heard

    async def find(self, address: str, timeout: float) -> Heard:
        """Wait until the proxy hears ``address`` (raise ``DeviceNotFound``)."""
        heard = self.lookup(address)
        if heard is not None:
            return heard
        found: asyncio.Future[Heard] = asyncio.get_running_loop().create_future()

        def check(h: Heard) -> None:
            if not found.done() and (h.mac == address.upper() or h.name == address):
                found.set_result(h)

        self.listeners.add(check)
        try:
            async with asyncio.timeout(timeout):
                return await found
        except TimeoutError:
            raise DeviceNotFound(
                f"{address} not heard by proxy {self.name} within {timeout:.0f} s"
            ) from None
        finally:
            self.listeners.discard(check)

    def _heard(self, heard: Heard) -> None:
        self.heard[heard.mac] = heard
        for listener in list(self.listeners):
            listener(heard)

    def _on_raw(self, msg: Any) -> None:
        now = self._clock()
        for adv in msg.advertisements:
            fields = ble_ad.parse(adv.data)
            self._heard(
                Heard(
                    mac_text(adv.address),
                    adv.rssi,
                    adv.address_type,
                    fields.name,
                    fields.service_uuids,
                    fields.manufacturer_data,
                    now,
                )
            )

    def _on_legacy(self, adv: Any) -> None:
        self._heard(
            Heard(
                mac_text(adv.address),
                adv.rssi,
                adv.address_type,
                adv.name or None,
                tuple(adv.service_uuids),
                dict(adv.manufacturer_data),
                self._clock(),
            )
        )

    def _on_free(self, free: int, limit: int, _allocated: list[int]) -> None:
        self.free, self.limit = free, limit

    # -- the session -------------------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        while True:
            stopped = asyncio.Event()
            try:
                await self._open_session(stopped)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every way a connect can fail; classified below
                failures += 1
                delay = self._failed(exc, failures)
            else:
                failures = 0
                await stopped.wait()
                self._problem("offline", f"API connection lost{self._fatal_detail()}")
                delay = self.retry_s[0]
            finally:
                await self._drop_session()
            await asyncio.sleep(delay)

    async def _open_session(self, stopped: asyncio.Event) -> None:
        from aioesphomeapi import APIClient

        client = APIClient(
            self.host,
            self.port,
            self.password,
            client_info="batmux",
            keepalive=self.keepalive_s,
            noise_psk=self.encryption_key,
        )
        self.client = client

        async def on_stop(_expected: bool) -> None:
            stopped.set()

        async with asyncio.timeout(self.connect_timeout_s):
            await client.connect(on_stop=on_stop, login=self.password is not None, log_errors=False)
            info = await client.device_info()
        assert client.api_version is not None
        self.features = info.bluetooth_proxy_feature_flags_compat(client.api_version)
        if not self.features & ACTIVE_CONNECTIONS:
            log.warning(
                "proxy %s: firmware offers no active connections (bluetooth_proxy: "
                "active: true); it can only relay advertisements",
                self.name,
            )
        if self.features & RAW_ADVERTISEMENTS:
            client.subscribe_bluetooth_le_raw_advertisements(self._on_raw)
        else:
            client.subscribe_bluetooth_le_advertisements(self._on_legacy)
        client.subscribe_bluetooth_connections_free(self._on_free)
        self.sessions += 1
        self.last_error = ""
        if self._logged is not None:
            log.info("proxy %s (%s:%d) is back", self.name, self.host, self.port)
            self._logged = None
        self._online.set()

    def _fatal_detail(self) -> str:
        connection = getattr(self.client, "_connection", None)
        error = getattr(connection, "fatal_exception", None)
        return f": {error}" if error else ""

    def _failed(self, exc: BaseException, failures: int) -> float:
        problem = _credential_problem(exc)
        if problem is not None:
            self._problem(problem, problem, level=logging.ERROR, retry_s=self.auth_retry_s)
            return self.auth_retry_s
        detail = str(exc) or type(exc).__name__
        self._problem("offline", f"unreachable ({detail})")
        base, cap = self.retry_s
        return min(cap, base * 2 ** min(failures - 1, 16))

    def _problem(
        self, key: str, text: str, level: int = logging.WARNING, retry_s: float | None = None
    ) -> None:
        """Log a cause once until the proxy is back (a flapping proxy does not flood the log)."""
        self.last_error = text
        if self._logged == key:
            log.debug("proxy %s: %s", self.name, text)
            return
        self._logged = key
        retry = (
            f"; retrying every {retry_s:g} s"
            if retry_s
            else "; reconnecting by itself with backoff"
        )
        log.log(level, "proxy %s (%s:%d): %s%s", self.name, self.host, self.port, text, retry)

    async def _drop_session(self) -> None:
        client, self.client = self.client, None
        self._online.clear()
        self.free = None
        for lost in list(self.on_lost):
            lost()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect(force=True)
