"""An ``mqtt[s]://user:password@host:port`` URL → aiomqtt.Client arguments, and its safe text.

Every MQTT client of batmux (the MQTT sink, ``mqtt_json`` / ``batmux_remote`` sources,
``mqtt_json_output``) connects through ``client_args``, so they all honour ``mqtt.tls`` the same
way; every log line that names a broker goes through ``redact_url``, so a password never
reaches a log or the journal.
"""

from __future__ import annotations

import ssl
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

TLS_SCHEMES = ("mqtts", "ssl")


class TlsSettings(Protocol):
    """What ``config.TlsConfig`` carries (kept structural: links do not import the config)."""

    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    insecure: bool


def redact_url(url: str) -> str:
    """The URL without its password (``mqtts://user:***@host:8883``); never raises."""
    try:
        parts = urlsplit(url)
        if parts.password is None and "@" not in parts.netloc:
            return url
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        secret = ":***" if parts.password is not None else ""
        return parts._replace(netloc=f"{user}{secret}@{host}").geturl()
    except ValueError:  # unparseable: say nothing that could be the secret
        return "<MQTT URL>"


def client_args(
    url: str, tls: TlsSettings | None = None, tls_forced: bool = False
) -> dict[str, Any]:
    """aiomqtt.Client keyword arguments: host, port, user/password (URL-decoded), TLS.

    TLS is on for ``mqtts://`` (``ssl://``), and for any URL when ``tls_forced`` and ``tls`` is
    given (the root ``mqtt:`` section: ``tls:`` there turns TLS on). ``tls`` supplies the CA,
    client certificate and ``insecure``; without it the system's CAs are trusted.
    """
    parts = urlsplit(url)
    on = parts.scheme in TLS_SCHEMES or (tls_forced and tls is not None)
    args: dict[str, Any] = {
        "hostname": parts.hostname or "localhost",
        "port": parts.port or (8883 if on else 1883),
    }
    if parts.username:
        args["username"] = unquote(parts.username)
        args["password"] = unquote(parts.password or "")
    if on:
        import aiomqtt  # here, not at the top: describing a config without MQTT needs no client

        insecure = bool(tls and tls.insecure)
        args["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=tls.ca_file if tls else None,
            certfile=tls.cert_file if tls else None,
            keyfile=tls.key_file if tls else None,
            cert_reqs=ssl.CERT_NONE if insecure else ssl.CERT_REQUIRED,
        )
        args["tls_insecure"] = insecure
    return args
