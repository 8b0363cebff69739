"""MQTT sink: one retained state JSON per battery/group, availability, HA discovery, commands.

Topics (``base`` = mqtt.base_topic):
    <base>/status                       online/offline (gateway last will)
    <base>/<name>/state                 state JSON (retained)
    <base>/<name>/availability          online/offline (retained)
    <base>/<name>/diagnostics           health counters JSON (retained)
    <base>/<name>/<charge|discharge>/set   ON/OFF commands (only with allow_control)
    <base>/<name>/<charge|discharge>/state ON/OFF switch state (retained; only with allow_control)
    <base>/<name>/contactor/set           close/open (or ON/OFF) for an EV pack with contactors:;
                                          a refusal shows in the state JSON's contactor_reason
    <base>/<name>/inject/set              commissioning fault (allow_inject), core/inject.py

Commands go to the gateway's ``runtime.commands.SwitchCommands`` (``Gateway.submit_switch``,
shared with the web and the charge-switch algorithm): the latest wish per switch wins and
writes to one BMS are at least ``MIN_WRITE_INTERVAL_S`` apart, so a flood of messages costs a
couple of writes, not an hour of FET switching. After a successful write the switch state is
published at once (HA shows it without waiting for the next publish period); later samples
confirm or correct it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import aiomqtt
import paho.mqtt.client as mqtt

from batmux.config import MqttConfig
from batmux.core.inject import parse_request as parse_inject
from batmux.errors import ControlRefused
from batmux.links.lost_cancel import cancel_count, reraise_lost_cancel
from batmux.links.mqtt_url import client_args, redact_url
from batmux.model.state import BatteryState
from batmux.sinks import json_text as json  # dumps: null for NaN/inf, strict JSON
from batmux.sinks.discovery import SWITCHES, Topics, discovery_messages, link_discovery_messages
from batmux.sinks.discovery_device import gateway_messages, identity

if TYPE_CHECKING:
    from batmux.runtime.app import Gateway

log = logging.getLogger(__name__)

# The diagnostics JSON is republished at once when a counter other than ``samples`` changes,
# otherwise at most this often: the sample count alone is not worth a message per battery per
# publish period.
DIAGNOSTICS_REFRESH_S = 60.0
# Commands that are ignored (unknown battery/switch, bad payload) are logged at most this often,
# with a count: a flood of bad messages must not flood the log.
IGNORED_LOG_PERIOD_S = 60.0


def client_kwargs(
    cfg: MqttConfig, will_topic: str | None = None, role: str | None = None
) -> dict[str, Any]:
    """aiomqtt.Client arguments from the ``mqtt.url`` (user, password, TLS). Every connection
    but the MQTT sink's names its ``role``: with ``mqtt.client_id`` set it connects as
    ``<client_id>-<role>``, since a broker drops the older of two sessions with one id."""
    kwargs = client_args(cfg.url, cfg.tls, tls_forced=True)
    kwargs["keepalive"] = cfg.keepalive
    if cfg.client_id:
        kwargs["identifier"] = f"{cfg.client_id}-{role}" if role else cfg.client_id
    if will_topic:
        kwargs["will"] = aiomqtt.Will(will_topic, b"offline", qos=1, retain=True)
    return kwargs


async def _publish(
    client: aiomqtt.Client, topic: str, payload: Any, qos: int = 0, retain: bool = False
) -> None:
    before = cancel_count()
    await client.publish(topic, payload, qos=qos, retain=retain)
    reraise_lost_cancel(before)  # see links/lost_cancel.py


def _publish_nowait(
    client: aiomqtt.Client, topic: str, payload: Any, qos: int = 0, retain: bool = False
) -> None:
    """Queue a message in paho without waiting until it is written (QoS 0) or acked (QoS 1).

    aiomqtt's ``publish`` waits for every message: an event, a ``wait_for`` task, a
    self-pipe wake-up and a writer registration each, about 100 µs of CPU per QoS 0 message
    (bench/bench_pipeline.py), and a broker round trip per QoS 1 message. Paho sends its
    queue in order, so a caller that awaits ``_publish`` for the last message of a batch
    still waits for all of them.

    A QoS 0 message queued while no writer is registered does not make paho ask aiomqtt
    for one (a self-pipe wake-up and a loop iteration from ``call_soon_threadsafe``): the
    caller ends its batch with ``_flush`` instead. With a writer registered (an awaited
    publish or a slow socket) it rides along as before. QoS 1 messages always register
    one: past paho's in-flight window they are sent only as acks come in.
    """
    paho = client._client  # aiomqtt has no public accessor
    quiet = qos == 0 and not paho._registered_write
    if quiet:
        paho._registered_write = True  # paho: "a writer is registered", so it asks for none
    try:
        info = paho.publish(topic, payload, qos, retain)
    finally:
        if quiet:
            paho._registered_write = False
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")


def _flush(client: aiomqtt.Client) -> None:
    """Write what ``_publish_nowait`` queued, now, from the caller's task.

    Left to aiomqtt when its writer is registered. Otherwise paho writes what the socket
    takes and registers aiomqtt's writer for the rest. While no publish is awaited, paho's
    QoS 0 ``on_publish`` (a ReasonCode and a Properties object per message, for aiomqtt's
    waiters only) is left out. Never raises: a broken connection is closed by paho, whose
    disconnect callback ends aiomqtt's session as any other loss does."""
    paho = client._client  # aiomqtt has no public accessor
    if paho._registered_write or not paho._out_packet:
        return
    if client._pending_publishes:
        paho.loop_write()
        return
    on_publish = paho.on_publish
    paho.on_publish = None
    try:
        paho.loop_write()
    finally:
        paho.on_publish = on_publish


def _backlog(client: aiomqtt.Client) -> int:
    """Messages paho has queued but not yet written to the socket."""
    return len(client._client._out_packet)  # aiomqtt has no public accessor


class MqttSink:
    def __init__(self, gateway: Gateway) -> None:
        assert gateway.config.mqtt is not None
        self.gateway = gateway
        self.cfg = gateway.config.mqtt
        self.topics = Topics(self.cfg.base_topic, self.cfg.discovery_prefix, self.cfg.gateway or "")
        self._announced: dict[str, set[str]] = {}
        # name → the shape of the last announced state; discovery is rebuilt only on change
        self._announced_shape: dict[str, tuple[Any, ...]] = {}
        self._availability: dict[str, bool] = {}
        self._without_sample: set[str] = set()  # sample-less states sent this session
        self._diagnostics_sent: dict[str, tuple[dict[str, Any], float]] = {}
        self.connected = asyncio.Event()
        self.connections = 0
        self.commands = gateway.switches  # the gateway's queue: counters for tests and logs
        self._client: aiomqtt.Client | None = None
        self._switch_sent: dict[tuple[str, str], bool] = {}  # last published switch state
        self._written_at: dict[tuple[str, str], float] = {}  # wall clock of the last good write
        self.ignored_commands = 0
        self._ignored_logged: tuple[float, int] = (float("-inf"), 0)

    async def run(self) -> None:
        """Stay connected forever (the gateway's switch writes go on while the broker is away)."""
        self.gateway.switch_listeners.append(self._switch_written)
        try:
            await self._stay_connected()
        finally:  # a restarted sink is a new MqttSink with its own listener
            self.gateway.switch_listeners.remove(self._switch_written)

    async def _stay_connected(self) -> None:
        """Reconnect with backoff after the broker goes away."""
        delay = 1.0
        while True:
            connections_before = self.connections
            try:
                # A fresh task per session: Python 3.11's TaskGroup can leave a cancel request
                # counted on its parent after a child fails, which would poison the next one.
                await asyncio.create_task(self._session(), name="mqtt-session")
            except* aiomqtt.MqttError as group:
                self.connected.clear()
                log.warning("MQTT: %s; reconnecting in %.0f s", group.exceptions[0], delay)
            if self.connections != connections_before:
                delay = 1.0  # it was connected: retry quickly after a broker restart
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)

    async def _session(self) -> None:
        kwargs = client_kwargs(self.cfg, self.topics.status)
        before = cancel_count()
        async with aiomqtt.Client(**kwargs) as client:
            reraise_lost_cancel(before)
            self.connections += 1
            self._announced.clear()
            self._announced_shape.clear()
            self._availability.clear()
            self._without_sample.clear()
            self._diagnostics_sent.clear()
            self._switch_sent.clear()
            await _publish(client, self.topics.status, b"online", qos=1, retain=True)
            await self._announce_gateway(client)
            await client.subscribe(f"{self.cfg.discovery_prefix}/status")
            for name, runtime in self.gateway.batteries.items():
                if runtime.cfg.allow_control:
                    await client.subscribe(f"{self.topics.base}/{name}/+/set")
                elif self.gateway.inject_allowed(name):
                    await client.subscribe(f"{self.topics.base}/{name}/inject/set")
            reraise_lost_cancel(before)
            self.connected.set()
            self._client = client
            log.info("MQTT: connected to %s", redact_url(self.cfg.url))
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._publish_states(client))
                    tg.create_task(self._listen(client))
            except asyncio.CancelledError:
                await self._say_offline(client)
                raise
            finally:
                self._client = None

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """On a clean stop: the broker sends the last will only when a client vanishes, and a
        clean disconnect would leave the retained ``online`` standing for a stopped gateway."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2.0):
                await client.publish(self.topics.status, b"offline", qos=1, retain=True)

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        async for snapshot in self.gateway.hub.updates():
            states = list(snapshot.values())
            # State messages are only queued in paho. When the previous rounds' messages are
            # still queued (a slow broker), the snapshot's last one is awaited: that bounds the
            # batch with aiomqtt's timeout and gives back-pressure. An await costs about as
            # much as the rest of a round at one battery, so it is kept for that case.
            sent = [i for i, s in enumerate(states) if self._state_due(s)]
            last = sent[-1] if sent and _backlog(client) > len(states) else -1
            try:
                for i, state in enumerate(states):
                    await self.publish_state(client, state, wait=i == last)
            finally:
                _flush(client)
            for name, status in list(self.gateway.link_status.items()):
                await self.publish_link(client, name, status())

    async def publish_link(self, client: aiomqtt.Client, name: str, status: dict[str, Any]) -> None:
        """An inverter link's state and "inverter alive", as its own HA device."""
        if self.cfg.discovery:
            done = self._announced.setdefault(name, set())
            for topic, config in link_discovery_messages(name, status, self.topics).items():
                if topic not in done:
                    await _publish(client, topic, json.dumps(config), qos=1, retain=True)
                    done.add(topic)
        await _publish(
            client, self.topics.state(name), json.dumps(status, default=str), retain=True
        )

    async def publish_state(
        self, client: aiomqtt.Client, state: BatteryState, wait: bool = True
    ) -> None:
        """Publish one state; with ``wait=False`` its state JSON is only queued in paho."""
        name = state.name
        payload = state.to_json()
        if self.cfg.discovery:
            await self._announce(client, state, payload)
        # Published with or without a sample: an unavailable battery/group's state (0 A, stale)
        # must replace a retained one that still offers limits (e.g. from before a restart).
        # Without a sample it cannot change, so once per session is enough (and spares HA's
        # templates a missing key on every period).
        send = self._state_due(state)
        if state.sample is None:
            self._without_sample.add(name)
        else:
            self._without_sample.discard(name)
        if send and wait:
            await _publish(client, self.topics.state(name), json.dumps(payload), retain=True)
        elif send:
            _publish_nowait(client, self.topics.state(name), json.dumps(payload), retain=True)
        if state.diagnostics and self._diagnostics_due(name, state.diagnostics):
            await _publish(
                client, self.topics.diagnostics(name), json.dumps(state.diagnostics), retain=True
            )
        if state.sample is not None and name in self._controlled():
            await self._publish_switches(client, name, state)
        if self._availability.get(name) != state.available:
            self._availability[name] = state.available
            await _publish(
                client,
                self.topics.availability(name),
                b"online" if state.available else b"offline",
                qos=1,
                retain=True,
            )

    def _controlled(self) -> frozenset[str]:
        return self.commands.batteries  # the batteries with allow_control

    async def _publish_switches(
        self, client: aiomqtt.Client, name: str, state: BatteryState
    ) -> None:
        """Each switch's state from the sample, when it changed; a sample taken before the last
        write is older than what the write did and is not allowed to undo its state."""
        sample = state.sample
        assert sample is not None
        for switch, key, _label in SWITCHES:
            value = getattr(sample, key)
            k = (name, switch)
            if value is None or self._switch_sent.get(k) == value:
                continue
            if sample.timestamp < self._written_at.get(k, float("-inf")):
                continue
            self._switch_sent[k] = value
            payload = b"ON" if value else b"OFF"
            await _publish(client, self.topics.switch_state(name, switch), payload, retain=True)

    async def _switch_written(self, name: str, switch: str, on: bool) -> None:
        """The BMS took the write: show it now, not a publish period later."""
        self._written_at[(name, switch)] = time.time()
        client = self._client
        if client is None:
            return  # offline: the first state after reconnecting carries it
        self._switch_sent[(name, switch)] = on
        with contextlib.suppress(aiomqtt.MqttError):
            payload = b"ON" if on else b"OFF"
            await _publish(client, self.topics.switch_state(name, switch), payload, retain=True)

    def _state_due(self, state: BatteryState) -> bool:
        return state.sample is not None or state.name not in self._without_sample

    def _diagnostics_due(self, name: str, diagnostics: dict[str, Any]) -> bool:
        counters = {k: v for k, v in diagnostics.items() if k != "samples"}
        now = asyncio.get_running_loop().time()
        sent = self._diagnostics_sent.get(name)
        if sent is not None and sent[0] == counters and now - sent[1] < DIAGNOSTICS_REFRESH_S:
            return False
        self._diagnostics_sent[name] = (counters, now)
        return True

    async def _announce(
        self, client: aiomqtt.Client, state: BatteryState, payload: dict[str, Any]
    ) -> None:
        runtime = self.gateway.batteries.get(state.name)
        # Discovery depends only on which keys the state carries (and list lengths), not on
        # values: skip rebuilding ~50 config dicts per battery per publish when nothing changed.
        bms = identity(payload, source_identity(runtime.source) if runtime else None)
        shape = (
            tuple(payload),
            len(payload.get("cell_voltages", ())),
            len(payload.get("temperatures", ())),
            tuple(state.diagnostics),
            state.is_group,
            tuple(sorted(bms.items())),
        )
        old_shape = self._announced_shape.get(state.name)
        if old_shape == shape:
            return
        messages = discovery_messages(
            state.name,
            payload,
            self.topics,
            model=runtime.cfg.type if runtime else "",
            allow_control=bool(runtime and runtime.cfg.allow_control),
            is_group=state.is_group,
            diagnostics=state.diagnostics or None,
            bms=bms,
            address=runtime.cfg.address if runtime else None,
        )
        done = self._announced.setdefault(state.name, set())
        if old_shape is not None and old_shape[-1] != shape[-1]:
            done.clear()  # the BMS told more about itself: every config carries the device
        new = [
            (topic, json.dumps(config)) for topic, config in messages.items() if topic not in done
        ]
        # One broker round trip per battery, not per entity: only the last config is awaited.
        for i, (topic, config_json) in enumerate(new, 1):
            if i < len(new):
                _publish_nowait(client, topic, config_json, qos=1, retain=True)
            else:
                await _publish(client, topic, config_json, qos=1, retain=True)
            done.add(topic)
        self._announced_shape[state.name] = shape

    async def _announce_gateway(self, client: aiomqtt.Client) -> None:
        """The batmux gateway device every battery device points at (``via_device``)."""
        if not self.cfg.discovery:
            return
        prefix, base = self.cfg.discovery_prefix, self.topics.base
        messages = gateway_messages(prefix, base, self.topics.status, self.topics.gateway)
        for topic, config in messages.items():
            await _publish(client, topic, json.dumps(config), qos=1, retain=True)

    async def _listen(self, client: aiomqtt.Client) -> None:
        birth = f"{self.cfg.discovery_prefix}/status"
        async for message in client.messages:
            topic = str(message.topic)
            payload = bytes(message.payload or b"").decode(errors="replace").strip()
            if topic == birth:
                if payload == "online":  # HA restarted: announce everything again
                    self._announced.clear()
                    self._announced_shape.clear()
                    await self._announce_gateway(client)
                continue
            await self._command(topic, payload)

    async def _command(self, topic: str, payload: str) -> None:
        """Queue a valid command (never waits for the BMS); count and log what is ignored."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[-1] != "set":
            return
        name, switch = parts[-3], parts[-2]
        if switch == "inject":
            self._inject(name, payload)
            return
        if name not in self._controlled() or switch not in ("charge", "discharge", "contactor"):
            self._ignore(f"no controllable switch at {topic}")
            return
        if switch == "contactor" and payload.lower() in ("close", "open"):
            payload = "ON" if payload.lower() == "close" else "OFF"  # refusals: contactor_reason
        if payload.upper() not in ("ON", "OFF"):
            self._ignore(f"{topic}: payload must be ON or OFF, got {payload[:20]!r}")
            return
        self.gateway.submit_switch(name, switch, payload.upper() == "ON")

    def _inject(self, name: str, payload: str) -> None:
        """``<base>/<name>/inject/set``: a commissioning fault (logged by the gateway)."""
        try:
            fault, for_s = parse_inject(payload)
            self.gateway.inject(name, fault, for_s)
        except (ValueError, ControlRefused) as exc:
            self._ignore(f"{name}/inject: {exc}")

    def _ignore(self, reason: str) -> None:
        self.ignored_commands += 1
        now = time.monotonic()
        last, count_then = self._ignored_logged
        if now - last >= IGNORED_LOG_PERIOD_S:
            since = self.ignored_commands - count_then - 1
            more = f" ({since} more ignored since the last such line)" if since > 0 else ""
            log.warning("MQTT: ignoring command: %s%s", reason, more)
            self._ignored_logged = (now, self.ignored_commands)


def source_identity(source: Any) -> dict[str, str]:
    """A BLE driver's decoded device-info frame (JK: model, hardware, software, serial), if its
    codec keeps one; read only, never requested."""
    info = getattr(getattr(getattr(source, "driver", None), "codec", None), "device_info", None)
    out: dict[str, str] = {}
    for key, attr in (
        ("model", "model"),
        ("hw_version", "hardware"),
        ("sw_version", "software"),
        ("serial_number", "serial"),
    ):
        value = getattr(info, attr, None)
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


async def run_mqtt(gateway: Gateway) -> None:
    await MqttSink(gateway).run()
