"""A simulated ESPHome Bluetooth proxy: the native API on loopback, the existing simulated
peripherals behind it.

``SimProxy`` serves what an ESP32 running ``bluetooth_proxy: {active: true}`` serves a client:
Hello/Authentication/DeviceInfo (feature flags for passive scan, active connections, remote
caching and raw advertisements), ping, raw advertisement batches, connection-slot counts, and
connect / service discovery / read / write / CCCD write / notify for each ``AirDevice`` it
hears. The GATT side of a device is a ``SimPeripheral`` around the family's ``SimDevice``, so
requests, answers, MTU chunking and radio latency are the family simulator's own; the proxy
adds the Wi-Fi hop (``hop_latency_s`` each way) and its limits: ``slots`` connections at once,
one central per peripheral (``AirDevice.connected_via``), notifications only after the client
wrote the CCCD (as ESPHome's v3 connections require). The GATT relay is ``esphome_gatt.py``,
the framing (plaintext and Noise) ``esphome_frames.py``.

Faults: ``restart()`` (cut every TCP connection mid-frame, refuse for a while, come back on
the same port), ``garble()`` (bytes that are no API frame on an open connection), ``silent``
(off Wi-Fi: connections stay open, nothing arrives either way),
``AirDevice.connect_errors`` and ``fail_connects_with`` (connects fail with GATT status 133),
``drop_notifications`` (connects, relays nothing),
``AirDevice.in_range`` and ``SimProxy.hears`` (who hears whom at what RSSI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aioesphomeapi import api_pb2 as pb
from google.protobuf.message import Message

from batmux.sim.esphome_frames import HandshakeRefused, NoiseFrames, PlainFrames, decode
from batmux.sim.esphome_gatt import AirDevice, GattRelay, ProxiedConnection, mac_int
from batmux.sim.fake_bluez.layout import bluez_uuid

__all__ = ["AirDevice", "SimProxy"]

log = logging.getLogger(__name__)

# BluetoothProxyFeature: PASSIVE_SCAN | ACTIVE_CONNECTIONS | REMOTE_CACHING | RAW_ADVERTISEMENTS
FEATURES = 1 | 2 | 4 | 32
CONNECT_V3_WITH_CACHE, CONNECT_V3_WITHOUT_CACHE, DISCONNECT = 4, 5, 1


class _Session:
    """One API client connection: frames out in order after the hop latency."""

    def __init__(self, proxy: SimProxy, writer: asyncio.StreamWriter, frames: PlainFrames) -> None:
        self.proxy = proxy
        self.writer = writer
        self.frames = frames
        self.raw_ads = False
        self.legacy_ads = False
        self.free_updates = False
        self._out: asyncio.Queue[tuple[float, Message]] = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop())

    def send(self, msg: Message) -> None:
        self._out.put_nowait((asyncio.get_running_loop().time() + self.proxy.hop_latency_s, msg))

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, msg = await self._out.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if self.writer.is_closing():
                return
            if not self.proxy.silent:
                self.writer.write(self.frames.encode(msg))

    def close(self) -> None:
        self._sender.cancel()
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


class SimProxy(GattRelay):
    """One simulated ESP32 Bluetooth proxy on ``host:port`` (port 0: any free one)."""

    def __init__(
        self,
        name: str = "sim-proxy",
        slots: int = 3,
        encryption_key: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hop_latency_s: float = 0.002,
        advertise_interval_s: float = 0.1,
        connect_timeout_s: float = 0.5,
        mac: str = "AA:BB:CC:00:00:01",
        raw_advertisements: bool = True,  # False: firmware before raw advertisements (2022.12)
    ) -> None:
        self.name = name
        self.slots = slots
        self.encryption_key = encryption_key
        self.password = password
        self.host = host
        self.port = port
        self.hop_latency_s = hop_latency_s
        self.advertise_interval_s = advertise_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.mac = mac
        self.features = FEATURES if raw_advertisements else FEATURES & ~32
        self.hears: dict[str, tuple[AirDevice, int]] = {}  # address → (device, RSSI dBm)
        self.gatt: dict[int, ProxiedConnection] = {}  # address → connection, ≤ ``slots``
        self.sessions: set[_Session] = set()
        self.handshakes_refused = 0
        self.silent = False  # off Wi-Fi: TCP stays open, nothing goes either way (no reset)
        self.notifications = 0  # notifications relayed to clients
        self.restart_at_notification: int | None = None  # reboot instead of relaying this one
        self.restart_down_s = 0.3
        self.restarts = 0
        self._restarting: asyncio.Task[None] | None = None
        self.drop_notifications = False  # connects fine, relays no notification (flaky ESP)
        self.fail_connects_with = 0  # a GATT status every connect through this proxy fails with
        self.max_in_use = 0  # most slots ever taken at once
        self.api_connects = 0
        self._server: asyncio.Server | None = None
        self._advertiser: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- world -----------------------------------------------------------------------------
    def hear(self, device: AirDevice, rssi: int = -60) -> AirDevice:
        self.hears[device.address.upper()] = (device, rssi)
        return device

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> SimProxy:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self._advertiser is None:
            self._advertiser = asyncio.create_task(self._advertise())
        return self

    async def stop(self) -> None:
        await self._go_down()
        if self._advertiser is not None:
            self._advertiser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._advertiser
            self._advertiser = None

    async def __aenter__(self) -> SimProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def restart(self, down_s: float = 0.3) -> None:
        """Reboot: every client loses its TCP connection mid-frame, the slots empty, the port
        refuses for ``down_s``, then the same port serves again."""
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                # half a frame on the wire, then nothing: the client must not choke on it
                session.writer.write(session.frames.encode(pb.PingRequest())[:1] + b"\x7f")
        self.restarts += 1
        await self._go_down()
        await asyncio.sleep(down_s)
        await self.start()

    def garble(self, data: bytes = b"\x05\xff\xff\xff") -> None:
        """Send every client bytes no API frame starts with, on a connection that stays open
        (a firmware bug, a corrupted buffer): the client has to drop the session itself."""
        for session in self.sessions:
            session.writer.write(data)

    async def _go_down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self.sessions):
            self._end_session(session)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one API client --------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames: PlainFrames | NoiseFrames = (
            NoiseFrames(self.encryption_key, self.name, self.mac.replace(":", "").lower())
            if self.encryption_key
            else PlainFrames()
        )
        try:
            await frames.handshake(reader, writer)
        except HandshakeRefused:
            self.handshakes_refused += 1
            writer.close()
            return
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return
        self.api_connects += 1
        session = _Session(self, writer, frames)  # type: ignore[arg-type]
        self.sessions.add(session)
        inbox: asyncio.Queue[tuple[float, int, bytes]] = asyncio.Queue()
        worker = asyncio.create_task(self._handle_inbox(session, inbox))
        loop = asyncio.get_running_loop()
        try:
            while True:
                msg_type, payload = await frames.read(reader)
                inbox.put_nowait((loop.time() + self.hop_latency_s, msg_type, payload))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except Exception as exc:  # a decrypt failure or a bug: drop the client like an ESP
            log.debug("%s: client dropped: %s", self.name, exc)
        finally:
            worker.cancel()
            self._end_session(session)

    async def _handle_inbox(
        self, session: _Session, inbox: asyncio.Queue[tuple[float, int, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, msg_type, payload = await inbox.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            msg = decode(msg_type, payload)
            if msg is not None and not self.silent:
                self._handle(session, msg)

    def _end_session(self, session: _Session) -> None:
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        for address, conn in list(self.gatt.items()):
            if conn.session is session:
                self._release(address)
        session.close()
        self._free_changed()

    # -- messages ---------------------------------------------------------------------------
    def _handle(self, s: _Session, msg: Message) -> None:
        if isinstance(msg, pb.HelloRequest):
            s.send(
                pb.HelloResponse(
                    api_version_major=1,
                    api_version_minor=12,
                    server_info="batmux sim-proxy",
                    name=self.name,
                )
            )
        elif isinstance(msg, pb.AuthenticationRequest):
            if self.password is not None and msg.password != self.password:
                s.send(pb.AuthenticationResponse(invalid_password=True))
        elif isinstance(msg, pb.DeviceInfoRequest):
            s.send(
                pb.DeviceInfoResponse(
                    name=self.name,
                    mac_address=self.mac,
                    bluetooth_mac_address=self.mac,
                    esphome_version="2025.10.0",
                    model="esp32dev",
                    uses_password=self.password is not None,
                    api_encryption_supported=True,
                    bluetooth_proxy_feature_flags=self.features,
                )
            )
        elif isinstance(msg, pb.PingRequest):
            s.send(pb.PingResponse())
        elif isinstance(msg, pb.DisconnectRequest):
            s.send(pb.DisconnectResponse())
        elif isinstance(msg, pb.ListEntitiesRequest):
            s.send(pb.ListEntitiesDoneResponse())
        elif isinstance(msg, pb.SubscribeBluetoothLEAdvertisementsRequest):
            s.raw_ads, s.legacy_ads = bool(msg.flags & 1), not msg.flags & 1
        elif isinstance(msg, pb.UnsubscribeBluetoothLEAdvertisementsRequest):
            s.raw_ads = s.legacy_ads = False
        elif isinstance(msg, pb.SubscribeBluetoothConnectionsFreeRequest):
            s.free_updates = True
            s.send(self._free_message())
        elif isinstance(msg, pb.BluetoothDeviceRequest):
            if msg.request_type in (CONNECT_V3_WITH_CACHE, CONNECT_V3_WITHOUT_CACHE):
                self._spawn(self._connect(s, msg.address))
            elif msg.request_type == DISCONNECT:
                self._spawn(self._drop(msg.address))
        elif isinstance(msg, pb.BluetoothGATTGetServicesRequest):
            self._services(s, msg.address)
        elif isinstance(msg, pb.BluetoothGATTReadRequest):
            self._spawn(self._read(s, msg.address, msg.handle))
        elif isinstance(msg, pb.BluetoothGATTWriteRequest):
            self._spawn(self._write(s, msg))
        elif isinstance(msg, pb.BluetoothGATTWriteDescriptorRequest):
            self._spawn(self._write_cccd(s, msg))
        elif isinstance(msg, pb.BluetoothGATTNotifyRequest):
            self._notify(s, msg)

    # -- advertising -------------------------------------------------------------------------
    async def _advertise(self) -> None:
        while True:
            await asyncio.sleep(self.advertise_interval_s)
            if not self.sessions:
                continue
            heard = [
                (d, rssi)
                for d, rssi in self.hears.values()
                if d.in_range and d.connected_via is None
            ]
            if not heard:
                continue
            raw = pb.BluetoothLERawAdvertisementsResponse(
                advertisements=[
                    pb.BluetoothLERawAdvertisement(
                        address=mac_int(d.address),
                        rssi=rssi,
                        address_type=0,
                        data=d.advertisement(),
                    )
                    for d, rssi in heard
                ]
            )
            for session in list(self.sessions):
                if session.raw_ads:
                    session.send(raw)
                elif session.legacy_ads:
                    for d, rssi in heard:
                        session.send(
                            pb.BluetoothLEAdvertisementResponse(
                                address=mac_int(d.address),
                                name=d.name.encode(),
                                rssi=rssi,
                                service_uuids=[bluez_uuid(d.service_uuid)],
                                address_type=0,
                            )
                        )
