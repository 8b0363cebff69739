"""Config of the ``web:``, ``history:`` and ``influxdb:`` sections (kept light: ``config.py``
imports it, so nothing here imports aiohttp or sqlite3)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from batmux.modelkit import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def split_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) → (host, port); ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("use HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


class WebConfig(_Strict):
    """The dashboard, JSON API and ``/metrics``."""

    listen: str = "127.0.0.1:8080"
    token: str | None = Field(None, min_length=8)  # bearer token, also ``?token=``
    base_path: str = "/"  # a reverse proxy's / Home Assistant ingress' prefix
    # peers let in without the token: Home Assistant's ingress proxy (172.30.32.2) has already
    # checked the user; everyone else on a non-loopback bind still needs the token
    trusted_clients: list[str] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("trusted_clients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(v)) for v in value]  # ValueError names the bad one

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in "?#% "):
            raise ValueError("must start with '/' and hold no '?', '#', '%' or spaces")
        return "/" + value.strip("/") + "/" if value.strip("/") else "/"

    @model_validator(mode="after")
    def _token_off_loopback(self) -> WebConfig:
        host, _ = split_listen(self.listen)
        if not is_loopback(host) and not self.token:
            raise ValueError(
                f"listen on {host} (not loopback) needs 'token:' (at least 8 characters)"
            )
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]


class HistoryConfig(_Strict):
    """The built-in SQLite history (``<state_dir>/history.sqlite``)."""

    enabled: bool = True
    retention_days: float = Field(30.0, gt=0, le=3660)
    full_resolution_hours: float = Field(24.0, gt=0)  # newer rows are kept as published
    bucket_s: int = Field(300, ge=10, le=86400)  # older rows become min/mean/max per bucket
    path: str | None = None  # default: <state_dir>/history.sqlite


class InfluxConfig(_Strict):
    """InfluxDB line-protocol output: v1 (``database:``) or v2 (``org:`` + ``bucket:``)."""

    url: str = "http://127.0.0.1:8086"
    database: str | None = None
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    org: str | None = None
    bucket: str | None = None
    token: str | None = None
    measurement: str = Field("battery", min_length=1)
    batch_size: int = Field(5000, ge=1, le=100_000)  # lines per HTTP request
    buffer_points: int = Field(100_000, ge=1)  # on-disk buffer bound while the server is down
    timeout: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError("not a valid URL (http://host:8086)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("use http://host:port or https://host:port")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _version(self) -> InfluxConfig:
        v2 = self.org is not None or self.bucket is not None
        if v2 and self.database is not None:
            raise ValueError("give either 'database:' (v1) or 'org:' + 'bucket:' (v2), not both")
        if v2 and not (self.org and self.bucket):
            raise ValueError("InfluxDB v2 needs both 'org:' and 'bucket:'")
        if not v2 and not self.database:
            raise ValueError("needs 'database:' (v1) or 'org:' + 'bucket:' (v2)")
        return self

    @property
    def is_v2(self) -> bool:
        return self.bucket is not None
