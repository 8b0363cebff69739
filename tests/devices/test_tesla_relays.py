"""External precharge/main relays (``relays:``) sequenced by the contactor state machine, with
the simulated Tesla pack on the virtual bus: a real HTTP server playing a Shelly and a Tasmota,
the real broker for the MQTT backend, and a fake only at the gpiod library boundary."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from batmux.config import parse_config
from batmux.core.relay_config import RelaysConfig
from batmux.core.relay_sequence import RelayPlan, plan
from batmux.errors import ConfigError
from batmux.links.relays import GpiodRelays, HttpRelays, MqttRelays, RelayOutput, make_backend
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from mqtt_helpers import recording
from tesla_helpers import LIMITS, running, until

SEQUENCE = (0.3, 0.1)  # precharge_s, overlap_s


@pytest.mark.parametrize(
    ("state", "t", "want"),
    [
        ("open", 0.0, (False, False, "contactor open")),
        ("precharge", 0.1, (True, False, "precharge")),
        ("closing", 0.35, (True, True, "precharged for 0.3 s")),
        ("closed", 0.5, (False, True, "main closed, precharge done")),
        ("opening", 9.0, (False, False, "contactor opening")),
        ("fault", 0.1, (False, False, "contactor fault")),
    ],
)
def test_plan(state: str, t: float, want: tuple[bool, bool, str]) -> None:
    assert plan(state, t, *SEQUENCE) == RelayPlan(*want)


def _gateway(tmp_path: Path, relays: dict[str, Any], mqtt_port: int | None = None) -> Gateway:
    contactors = {"close_on_start": True, "open_step_s": 0.2}
    timing = {"precharge_s": SEQUENCE[0], "overlap_s": SEQUENCE[1]}
    battery = {"name": "tesla", "type": "tesla_model3", "address": "sim", "limits": LIMITS,
               "sim": {"cells": 108}, "allow_control": True, "contactors": contactors,
               "relays": {**relays, **timing}}  # fmt: skip
    raw: dict[str, Any] = {"sample_period": 0.1, "publish_period": 0.2,
                           "state_dir": str(tmp_path), "batteries": [battery]}  # fmt: skip
    if mqtt_port is not None:
        raw["mqtt"] = {"url": f"mqtt://127.0.0.1:{mqtt_port}", "discovery": False}
    gateway = Gateway(parse_config(raw))
    wire(gateway)
    return gateway


async def http_relay(handler: Any) -> tuple[web.AppRunner, str]:
    """A real HTTP server answering every GET with ``handler``; (runner, base URL)."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_http_relays_shelly_and_tasmota(tmp_path: Path, caplog: Any) -> None:
    paths: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        paths.append(request.raw_path)
        return web.json_response({"ison": "turn=on" in request.raw_path})

    runner, base = await http_relay(handler)
    relays = {"backend": "http", "precharge": {"url": base, "kind": "shelly", "channel": 0},
              "main": {"url": base, "kind": "tasmota", "channel": 1}}  # fmt: skip
    caplog.set_level(logging.WARNING, "batmux.links.relays")
    try:
        gateway = _gateway(tmp_path, relays)
        control = gateway.batteries["tesla"].source
        async with running(gateway):
            await until(lambda: control.relays.state == {"precharge": False, "main": True})
        assert paths == [
            "/cm?cmnd=Power1%20Off",  # at start: both off (their state is unknown)
            "/relay/0?turn=off",
            "/relay/0?turn=on",  # precharge
            "/cm?cmnd=Power1%20On",  # main after precharge_s
            "/relay/0?turn=off",  # precharge off after overlap_s
            "/cm?cmnd=Power1%20Off",  # shutdown: main opens
        ]
        assert "tesla: relay precharge on (precharge)" in caplog.text
        assert "tesla: relay main on (precharged for 0.3 s)" in caplog.text
        assert "tesla: relay main off (" in caplog.text
    finally:
        await runner.cleanup()


async def test_http_relay_failure_is_logged_and_retried(caplog: Any) -> None:
    cfg = RelaysConfig.model_validate({
        "backend": "http", "precharge": {"url": "http://127.0.0.1:9"},
        "main": {"url": "http://127.0.0.1:9"}, "timeout_s": 0.5})  # fmt: skip
    output = RelayOutput("pack", cfg, HttpRelays(cfg.timeout_s))
    try:
        await output.apply(RelayPlan(True, False, "precharge"))
    finally:
        await output.close()
    # main's state is unknown: it is switched off first, fails, and the sequence stops there
    assert output.errors == 1 and output.state == {"precharge": None, "main": None}
    assert "relay main off failed (precharge)" in caplog.text


@pytest.mark.parametrize("answer", ["error", "hang"])
async def test_http_relay_garbage_or_hung_then_recovers(answer: str, caplog: Any) -> None:
    """A relay that answers HTTP 500 or never answers: a logged failure, state unknown; the
    next ``apply`` after it recovers runs the whole sequence from where it stopped."""
    paths: list[str] = []
    broken, release = True, asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if broken:
            if answer == "hang":
                await release.wait()
            return web.Response(status=500, text="<html>busy</html>")
        paths.append(request.raw_path)
        return web.Response(text="ok")

    runner, base = await http_relay(handler)
    cfg = RelaysConfig.model_validate({
        "backend": "http", "precharge": {"url": base}, "main": {"url": base, "channel": 1},
        "timeout_s": 0.2})  # fmt: skip
    output = RelayOutput("pack", cfg, HttpRelays(cfg.timeout_s))
    try:
        await output.apply(RelayPlan(True, False, "precharge"))
        assert output.errors == 1 and output.state == {"precharge": None, "main": None}
        assert "relay main off failed (precharge)" in caplog.text
        assert caplog.text.count(": HTTP 500" if answer == "error" else "TimeoutError") == 1
        broken = False
        await output.apply(RelayPlan(True, False, "precharge"))
    finally:
        release.set()
        await output.close()
        await runner.cleanup()
    assert output.state == {"precharge": True, "main": False}
    assert paths == ["/relay/1?turn=off", "/relay/0?turn=on"]  # main off first, then precharge


async def test_mqtt_relays_broker_gone(caplog: Any) -> None:
    from batmux.config import MqttConfig
    from broker_process import free_port

    cfg = RelaysConfig.model_validate({
        "backend": "mqtt", "precharge": {"topic": "r/pre"}, "main": {"topic": "r/main"},
        "timeout_s": 0.5})  # fmt: skip
    mqtt = MqttConfig(url=f"mqtt://127.0.0.1:{free_port()}", discovery=False)
    output = RelayOutput("pack", cfg, make_backend(cfg, mqtt=mqtt))
    await output.apply(RelayPlan(False, False, "shutdown"))
    await output.close()
    assert output.errors == 1 and output.state == {"precharge": None, "main": None}
    assert "relay main off failed (shutdown): MQTT r/main" in caplog.text


async def test_mqtt_relays(tmp_path: Path, broker: Any) -> None:
    relays = {"backend": "mqtt", "precharge": {"topic": "relays/pre/set"},
              "main": {"topic": "relays/main/set", "on": "1", "off": "0"}}  # fmt: skip
    gateway = _gateway(tmp_path, relays, broker.port)
    seen: list[tuple[str, bytes]] = []
    async with recording(broker.port) as rec:
        await rec.wait_for(lambda: rec.client is not None)
        await asyncio.sleep(0.2)  # subscribed

        def log_them() -> bool:
            for topic in ("relays/pre/set", "relays/main/set"):
                value = rec.messages.get(topic)
                if value is not None and (topic, value) not in seen:
                    seen.append((topic, value))
            return ("relays/main/set", b"1") in seen

        async with running(gateway):
            await rec.wait_for(log_them, timeout=10)
            await until(
                lambda: gateway.batteries["tesla"].source.relays.state["precharge"] is False
            )
        await rec.wait_for(lambda: rec.messages.get("relays/main/set") == b"0")
    assert ("relays/pre/set", b"ON") in seen and ("relays/main/set", b"1") in seen
    assert rec.messages["relays/pre/set"] == b"OFF"


class FakeGpiod:
    """The gpiod v2 surface batmux uses: LineSettings, line.Value/Direction, request_lines."""

    line = SimpleNamespace(
        Value=SimpleNamespace(ACTIVE="active", INACTIVE="inactive"),
        Direction=SimpleNamespace(OUTPUT="output"),
    )

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    @staticmethod
    def LineSettings(**kw: Any) -> dict[str, Any]:  # the library's name
        return kw

    def request_lines(self, chip: str, consumer: str, config: dict[int, Any]) -> Any:
        fake = self

        class Request:
            def set_value(self, line: int, value: str) -> None:
                fake.calls.append((chip, line, value))

            def release(self) -> None:
                fake.calls.append((chip, -1, "released"))

        return Request()


async def test_gpiod_backend_at_the_library_boundary() -> None:
    cfg = RelaysConfig.model_validate(
        {"backend": "gpiod", "precharge": {"line": 17}, "main": {"line": 27}}
    )
    fake = FakeGpiod()
    backend = make_backend(cfg, gpiod=fake)
    assert isinstance(backend, GpiodRelays)
    output = RelayOutput("pack", cfg, backend)
    await output.apply(plan("open", 0.0, 3.0, 0.5))  # unknown at start: both off
    for t in (0.0, 3.1, 3.6, 3.7):
        await output.apply(plan("closed", t, 3.0, 0.5))
    await output.apply(plan("opening", 9.0, 3.0, 0.5))
    await output.close()
    chip = "/dev/gpiochip0"
    assert fake.calls == [
        (chip, 27, "inactive"), (chip, 17, "inactive"),
        (chip, 17, "active"), (chip, 27, "active"), (chip, 17, "inactive"),
        (chip, 27, "inactive"), (chip, -1, "released"), (chip, -1, "released"),
    ]  # fmt: skip


async def test_gpiod_missing_is_a_logged_failure(caplog: Any) -> None:
    cfg = RelaysConfig.model_validate(
        {"backend": "gpiod", "precharge": {"line": 17}, "main": {"line": 27}}
    )
    output = RelayOutput("pack", cfg, GpiodRelays())  # the real import: not installed here
    try:
        import gpiod  # noqa: F401

        pytest.skip("gpiod is installed: this checks its absence")
    except ImportError:
        pass
    await output.apply(RelayPlan(True, False, "precharge"))
    assert output.errors == 1 and "needs the gpiod package" in caplog.text


def test_backend_selection_and_config_errors(tmp_path: Path) -> None:
    http = RelaysConfig.model_validate(
        {"backend": "http", "precharge": {"url": "http://a"}, "main": {"url": "http://b"}}
    )
    assert isinstance(make_backend(http), HttpRelays)
    mqtt = RelaysConfig.model_validate(
        {"backend": "mqtt", "precharge": {"topic": "a"}, "main": {"topic": "b"}}
    )
    assert isinstance(make_backend(mqtt, mqtt=object()), MqttRelays)
    with pytest.raises(ValueError, match="needs 'url:'"):
        RelaysConfig.model_validate({"backend": "http", "precharge": {}, "main": {}})
    with pytest.raises(ConfigError, match="needs a 'contactors:'"):
        parse_config({"batteries": [{"name": "t", "type": "tesla_model3", "allow_control": True,
                                     "relays": http.model_dump()}]})  # fmt: skip
    with pytest.raises(ConfigError, match="needs the top-level mqtt"):
        _gateway(tmp_path, mqtt.model_dump())
