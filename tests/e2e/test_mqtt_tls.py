"""MQTT over TLS with user/password: a real mosquitto with a self-signed CA on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from batmux.config import parse_config
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from broker_process import free_port, mosquitto_binary, start_mosquitto, stop
from mqtt_helpers import running

USER, PASSWORD = "batmux", "s3cret:pw"  # a ':' in the password must survive the URL


@dataclass
class TlsBroker:
    port: int
    ca_file: Path
    auth: bool  # False when mosquitto_passwd is missing: anonymous TLS only

    def url(self, userinfo: str | None = None) -> str:
        if userinfo is None:
            userinfo = f"{USER}:s3cret%3Apw@" if self.auth else ""
        return f"mqtts://{userinfo}127.0.0.1:{self.port}"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=batmux test CA", cwd=folder)  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=folder)  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
             cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    mosquitto = mosquitto_binary()
    if mosquitto is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto and openssl")
    folder = tmp_path_factory.mktemp("tls")
    make_certs(folder)
    passwd = shutil.which("mosquitto_passwd")
    port = free_port()
    lines = [
        "user root",  # keep the privileges needed to read the key in a 0700 temp dir
        f"listener {port} 127.0.0.1",
        f"cafile {folder / 'ca.crt'}",
        f"certfile {folder / 'server.crt'}",
        f"keyfile {folder / 'server.key'}",
        "persistence false",
    ]
    if passwd:
        subprocess.run(
            [passwd, "-c", "-b", str(folder / "passwords"), USER, PASSWORD],
            check=True,
            capture_output=True,
        )
        lines += ["allow_anonymous false", f"password_file {folder / 'passwords'}"]
    else:
        lines.append("allow_anonymous true")
    (folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    process = start_mosquitto(mosquitto, folder / "mosquitto.conf", port)
    try:
        yield TlsBroker(port, folder / "ca.crt", auth=passwd is not None)
    finally:
        stop(process)


async def first_state(broker: TlsBroker, topic: str, timeout: float = 5.0) -> dict[str, Any]:
    """Subscribe over TLS (verifying the CA, with the password) and return one state JSON."""
    auth = {"username": USER, "password": PASSWORD} if broker.auth else {}
    tls = aiomqtt.TLSParameters(ca_certs=str(broker.ca_file))
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                async with aiomqtt.Client(
                    "127.0.0.1", broker.port, tls_params=tls, **auth
                ) as client:
                    await client.subscribe(topic)
                    async for message in client.messages:
                        return json.loads(bytes(message.payload))  # type: ignore[arg-type]
            await asyncio.sleep(0.1)


def gateway_for(
    tmp_path: Path, mqtt: dict[str, Any], name: str = "tls_pack", **more: Any
) -> Gateway:
    """One simulated pack (or ``batteries=``), plus any other top-level sections."""
    battery = {"name": name, "type": "jbd", "sim": {"cells": 4, "soc": 66, "current": 3}}
    data = {"sample_period": 0.1, "publish_period": 0.2, "batteries": [battery], **more}
    config = parse_config({**data, "mqtt": mqtt, "state_dir": str(tmp_path)}, "test.yaml")
    gateway = Gateway(config)
    wire(gateway)
    return gateway


async def test_state_arrives_over_tls_with_ca_file_and_password(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    gateway = gateway_for(
        tmp_path, {"url": tls_broker.url(), "tls": {"ca_file": str(tls_broker.ca_file)}}
    )
    async with running(gateway):
        state = await first_state(tls_broker, "batmux/tls_pack/state")
    assert state["soc"] == pytest.approx(66, abs=1)
    assert state["current"] == pytest.approx(3.0)
    assert len(state["cell_voltages"]) == 4


async def test_insecure_tls_works_without_ca_file(tls_broker: TlsBroker, tmp_path: Path) -> None:
    # its own battery name: the state retained by the other test must not count
    gateway = gateway_for(
        tmp_path, {"url": tls_broker.url(), "tls": {"insecure": True}}, "tls_insecure"
    )
    async with running(gateway):
        state = await first_state(tls_broker, "batmux/tls_insecure/state")
    assert state["available"] is True and state["voltage"] > 0


@pytest.mark.parametrize(
    ("case", "mqtt"),
    [
        ("unknown CA", lambda b: {"url": b.url()}),  # self-signed: must not be trusted
        ("wrong password", lambda b: {"url": b.url(f"{USER}:nope@"), "tls": {"insecure": True}}),
    ],
)
async def test_untrusted_broker_or_bad_password_gets_nothing(
    tls_broker: TlsBroker, tmp_path: Path, case: str, mqtt: Any
) -> None:
    if case == "wrong password" and not tls_broker.auth:
        pytest.skip("mosquitto_passwd is not installed: the broker is anonymous")
    name = "refused_" + case.replace(" ", "_")  # nothing retained from the other tests
    gateway = gateway_for(tmp_path, mqtt(tls_broker), name)
    async with running(gateway):
        await asyncio.sleep(0.5)
        with pytest.raises(TimeoutError):
            await first_state(tls_broker, f"batmux/{name}/state", timeout=0.8)
        assert gateway.batteries[name].health.samples > 0  # sampling goes on regardless


# -- mqtt_json sources and mqtt_json_output use mqtt.tls too; no password in any log ----------
JSON_IN = {"Dc": {"Power": -240.0, "Voltage": 48.0}, "Soc": 57, "InstalledCapacity": 100}


def json_gateway(tmp_path: Path, mqtt: dict[str, Any], prefix: str) -> Gateway:
    """A simulated pack published as dbus-mqtt-battery JSON, and an mqtt_json battery read back,
    all through the root ``mqtt:`` broker (no per-entry url: the root TLS settings must apply)."""
    batteries = [
        {"name": f"{prefix}_sim", "type": "jbd", "sim": {"cells": 4, "soc": 66}},
        {"name": f"{prefix}_json", "type": "mqtt_json", "topic": f"{prefix}/in"},
    ]
    output = [{"battery": f"{prefix}_sim", "topic": f"{prefix}/out"}]
    return gateway_for(tmp_path, mqtt, batteries=batteries, mqtt_json_output=output)


async def publish_tls(broker: TlsBroker, topic: str, payload: str) -> None:
    auth = {"username": USER, "password": PASSWORD} if broker.auth else {}
    tls = aiomqtt.TLSParameters(ca_certs=str(broker.ca_file))
    async with aiomqtt.Client("127.0.0.1", broker.port, tls_params=tls, **auth) as client:
        await client.publish(topic, payload, retain=True)


async def test_mqtt_json_source_and_output_use_the_root_tls_settings(
    tls_broker: TlsBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mqtt = {"url": tls_broker.url(), "tls": {"ca_file": str(tls_broker.ca_file)}}
    gateway = json_gateway(tmp_path, mqtt, "tlsjson")
    async with running(gateway):
        await publish_tls(tls_broker, "tlsjson/in", json.dumps(JSON_IN))
        out = await first_state(tls_broker, "tlsjson/out")  # mqtt_json_output over TLS
        state = await first_state(tls_broker, "batmux/tlsjson_json/state")  # source over TLS
        async with asyncio.timeout(5):
            while not state.get("available"):
                state = await first_state(tls_broker, "batmux/tlsjson_json/state")
    assert out["Soc"] == pytest.approx(66, abs=1) and out["Dc"]["Voltage"] > 0
    assert state["current"] == -5.0 and state["soc"] == 57
    assert "connected to mqtts://" in caplog.text  # the INFO line names the broker...
    assert PASSWORD not in caplog.text and "s3cret" not in caplog.text  # ...without the secret


async def test_failed_connections_never_log_the_password(
    tls_broker: TlsBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password: the sink, the source and the output all log their failure (WARNING)
    with the broker's address, and none of them the password."""
    if not tls_broker.auth:
        pytest.skip("mosquitto_passwd is not installed: the broker is anonymous")
    caplog.set_level(logging.DEBUG)
    secret = "wr0ng-Secret%40pw"  # %40 is '@' in the URL: the decoded form must not leak either
    mqtt = {"url": tls_broker.url(f"{USER}:{secret}@"), "tls": {"ca_file": str(tls_broker.ca_file)}}
    gateway = json_gateway(tmp_path, mqtt, "badpw")
    async with running(gateway):
        async with asyncio.timeout(8):
            while not ("mqtt_json_output" in caplog.text and "badpw_json: MQTT" in caplog.text):
                await asyncio.sleep(0.1)
    assert f"{USER}:***@127.0.0.1" in caplog.text
    for leak in ("wr0ng", "Secret", "wr0ng-Secret@pw"):
        assert leak not in caplog.text
