"""Meter payloads: every format, bad input counted and dropped, HTTP polling on loopback."""

from __future__ import annotations

import logging
import math

import aiohttp
import pytest

from batmux.netzero.config import HttpMeter, MqttMeter
from batmux.netzero.consumption import (
    BadReading,
    HttpConsumption,
    MqttConsumption,
    SumConsumption,
    parse_power,
)
from batmux.sim.house import HttpMeterServer, encode_meter
from netzero.nz_helpers import JumpClock


@pytest.mark.parametrize(
    ("payload", "fmt", "path", "factor", "watts"),
    [
        (b"\xff\x38", "int16", None, 1.0, -200.0),  # raw big-endian, as the field's meters send
        (b"\x01\x2c", "int16", None, 1.0, 300.0),
        (b"\xff\xff\xfe\x0c", "int32", None, 1.0, -500.0),
        (b"\x00\x01\x11\x70", "int32", None, 1.0, 70000.0),
        (b" 123.5\n", "number", None, 1.0, 123.5),
        (b"-42", "number", None, 1.0, -42.0),
        (b'{"emeters":[{"power":1.5},{"power":2}]}', "json", "emeters.1.power", 1000.0, 2000.0),
        (b'{"StatusSNS":{"ENERGY":{"Power":"77"}}}', "json", "StatusSNS.ENERGY.Power", 1, 77.0),
    ],
)
def test_formats(payload: bytes, fmt: str, path: str | None, factor: float, watts: float) -> None:
    assert parse_power(payload, fmt, path, factor) == watts


@pytest.mark.parametrize(
    ("payload", "fmt", "path", "signed", "why"),
    [
        (b"garbage", "number", None, True, "not a number"),
        (b"nan", "number", None, True, "not a finite power"),
        (b"inf", "number", None, True, "not a finite power"),
        (b"1e308", "number", None, True, "not a finite power"),  # x factor → beyond a meter
        (b"-5", "number", None, False, "negative value -5 W from an unsigned meter"),
        (b"\x01", "int16", None, True, "int16 needs 2 bytes, got 1"),
        (b"\xff\xfe\x00", "int32", None, True, "int32 needs 4 bytes, got 3"),
        (b"\xff\xfe", "number", None, True, "not UTF-8 text"),
        (b"{", "json", "power", True, "not JSON"),
        (b'{"power": null}', "json", "power", True, "not a number"),
        (b'{"power": true}', "json", "power", True, "not a number"),
        (b'{"p": 1}', "json", "power", True, "no 'power' in path 'power'"),
        (b'{"a": [1]}', "json", "a.3", True, "no element 3 in path 'a.3'"),
    ],
)
def test_bad_payloads(payload: bytes, fmt: str, path: str | None, signed: bool, why: str) -> None:
    with pytest.raises(BadReading, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_power(payload, fmt, path, 1.0, signed)


def test_bad_values_are_counted_dropped_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = JumpClock()
    meter = MqttConsumption(MqttMeter(topic="m", format="number", signed=False), clock)
    assert meter.feed(b"250") is not None
    with caplog.at_level(logging.WARNING, "batmux.netzero.consumption"):
        for payload in (b"garbage", b"NaN", b"-3", b"inf"):
            assert meter.feed(payload) is None
    latest = meter.latest()
    assert latest is not None and latest.watts == 250.0
    assert (meter.good, meter.bad) == (1, 4)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["netzero meter mqtt:m: dropped bad value (1 so far): not a number: 'garbage'"]


def test_sum_needs_every_part_and_is_as_old_as_the_oldest() -> None:
    clock = JumpClock(100.0)
    a = MqttConsumption(MqttMeter(topic="a"), clock)
    b = MqttConsumption(MqttMeter(topic="b", format="int16", signed=True), clock)
    total = SumConsumption([a, b])
    a.feed(b"100")
    assert total.latest() is None  # one phase missing: no value rather than a wrong one
    clock.t = 102.0
    b.feed(encode_meter(-30, "int16"))
    reading = total.latest()
    assert reading is not None and (reading.watts, reading.at) == (70.0, 100.0)


async def test_http_polling_against_a_loopback_meter() -> None:
    values = iter([812.5, math.nan])
    server = HttpMeterServer(lambda: next(values), path="emeter.total_power")
    url = await server.start()
    clock = JumpClock()
    try:
        async with aiohttp.ClientSession() as session:
            cfg = HttpMeter(url=f"{url}/status", path="emeter.total_power", factor=1.0)
            meter = HttpConsumption(cfg, clock, session)
            reading = await meter.poll_once()
            assert reading is not None and reading.watts == 812.5
            assert await meter.poll_once() is None  # a NaN reading is dropped
            missing = HttpConsumption(HttpMeter(url=f"{url}/nope", path="x"), clock, session)
            assert await missing.poll_once() is None
            assert (meter.bad, missing.bad) == (1, 1)
            assert meter.latest() == reading
    finally:
        await server.stop()


async def test_http_meter_gone_garbage_and_back(caplog: pytest.LogCaptureFixture) -> None:
    server = HttpMeterServer(lambda: 250.0)
    url = await server.start()
    clock = JumpClock()
    try:
        async with aiohttp.ClientSession() as session:
            meter = HttpConsumption(
                HttpMeter(url=f"{url}/status", path="total_power"), clock, session
            )
            slow_cfg = HttpMeter(url=f"{url}/status", path="total_power", timeout=0.1)
            slow = HttpConsumption(slow_cfg, clock, session)
            first = await meter.poll_once()
            assert first is not None and first.watts == 250.0
            with caplog.at_level(logging.WARNING, "batmux.netzero.consumption"):
                server.garbage = True  # a body that is not JSON
                assert await meter.poll_once() is None
                server.garbage = False
                server.fail_status = 503
                assert await meter.poll_once() is None
                server.fail_status = None
                server.hang_s = 0.3  # silent past the poll's timeout
                assert await slow.poll_once() is None
                server.hang_s = 0.0
                await server.drop_off()  # connection refused
                assert await meter.poll_once() is None
            assert meter.bad == 3 and meter.latest() == first  # the last good value only ages
            assert slow.bad == 1 and slow.latest() is None
            assert "not JSON" in caplog.records[0].getMessage()  # one line a minute, the first
            await server.come_back()  # the meter restarts on the same port
            clock.t += 5.0
            again = await meter.poll_once()
            assert again is not None and (again.watts, again.at) == (250.0, clock.t)
    finally:
        await server.stop()
