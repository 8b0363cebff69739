"""The one helper every MQTT client and every broker log line goes through."""

from __future__ import annotations

import ssl

import pytest

from batmux.config import TlsConfig
from batmux.links.mqtt_url import client_args, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtts://user:s3cret%3Apw@broker.lan:8883", "mqtts://user:***@broker.lan:8883"),
        ("mqtt://:onlypw@10.0.0.2", "mqtt://:***@10.0.0.2"),
        ("mqtt://user@host:1883", "mqtt://user@host:1883"),
        ("mqtt://host:1883", "mqtt://host:1883"),
        ("mqtt://u:p@[::1]:1883", "mqtt://u:***@[::1]:1883"),
        ("mqtt://u:p@host:notaport", "mqtt://u:***@host:notaport"),
        ("mqtt://u:p@[bad", "<MQTT URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_client_args_decode_credentials_and_apply_tls() -> None:
    plain = client_args("mqtt://u%40x:p%3Aq@h:1884")
    assert plain == {"hostname": "h", "port": 1884, "username": "u@x", "password": "p:q"}
    tls = TlsConfig(ca_file="/ca.pem")
    own_broker = client_args("mqtt://other:1883", tls)  # tls only for mqtts:// or the root
    assert "tls_params" not in own_broker
    root = client_args("mqtt://root", tls, tls_forced=True)
    assert root["port"] == 8883 and root["tls_params"].ca_certs == "/ca.pem"
    secure = client_args("mqtts://h", TlsConfig(insecure=True))
    assert secure["tls_params"].cert_reqs == ssl.CERT_NONE and secure["tls_insecure"] is True
    system_cas = client_args("mqtts://h")
    assert system_cas["tls_params"].ca_certs is None
    assert system_cas["tls_params"].cert_reqs == ssl.CERT_REQUIRED
