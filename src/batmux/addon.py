"""Home Assistant add-on glue: the add-on's options and the Supervisor's MQTT service → a config.

The Supervisor writes the options the user set in the UI to ``/data/options.json`` and, for an
add-on whose config.yaml asks for ``services: [mqtt:need]``, answers
``GET http://supervisor/services/mqtt`` (header ``Authorization: Bearer $SUPERVISOR_TOKEN``) with
``{"result": "ok", "data": {"host", "port", "ssl", "protocol", "username", "password", "addon"}}``
— the call ``bashio::services mqtt host`` makes. ``python -m batmux.addon run`` (the add-on's
run.sh) turns both into ``/data/batmux.yaml``, checks it with ``batmux check-config`` (errors are
``file: field: reason`` lines in the add-on log) and then becomes ``batmux run``. State lives in
``/data/state``, which the Supervisor keeps across updates and includes in backups.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from batmux.config import parse_config, read_config_data
from batmux.errors import ConfigError

SUPERVISOR_URL = "http://supervisor"
DATA = Path("/data")
CUSTOM_CONFIG = Path("/config/batmux.yaml")  # the add-on's own config folder (addon_config)
# Home Assistant ingress: the Supervisor's proxy (always this address on the hassio network)
# forwards the dashboard, prefix stripped, to this port; anyone else needs the token.
INGRESS_PORT = 8099
INGRESS_PROXY = "172.30.32.2"
WEB_TOKEN_FILE = "web_token"
DEFAULT_BASE_TOPIC = "batmux"  # config.yaml's default option
LOG_FLAGS = {"warning": [], "info": ["-v"], "debug": ["-vv"]}
# Options copied as they are; the others are mapped below.
PLAIN = ("sample_period", "publish_period", "expire_after")
BATTERY_KEYS = (
    "name",
    "type",
    "address",
    "adapter",
    "pin",
    "advertisement_key",
    "current_calibration",
    "invert_current",
)


class SupervisorError(Exception):
    """The Supervisor's services API could not be read."""


def supervisor_mqtt(
    base_url: str = SUPERVISOR_URL, token: str | None = None, timeout: float = 10.0
) -> dict[str, Any] | None:
    """The broker the Supervisor offers, or None when no add-on provides MQTT."""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/services/mqtt",
        headers={"Authorization": f"Bearer {token or ''}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (400, 404):  # the Supervisor's answer when no broker is installed
            return None
        raise SupervisorError(f"services API answered HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise SupervisorError(f"services API unreachable: {exc}") from exc
    if not isinstance(body, dict) or body.get("result") != "ok":
        return None
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("host"):
        return None
    return data


def mqtt_url(service: Mapping[str, Any]) -> str:
    """``mqtt[s]://user:password@host:port`` from a services-API answer (user/password quoted)."""
    scheme = "mqtts" if service.get("ssl") else "mqtt"
    auth = ""
    if service.get("username"):
        auth = quote(str(service["username"]), safe="")
        if service.get("password"):
            auth += ":" + quote(str(service["password"]), safe="")
        auth += "@"
    port = int(service.get("port") or (8883 if scheme == "mqtts" else 1883))
    return f"{scheme}://{auth}{service['host']}:{port}"


def _mqtt_section(options: Mapping[str, Any], service: Mapping[str, Any] | None) -> dict[str, Any]:
    url = options.get("mqtt_url") or (mqtt_url(service) if service else None)
    if url is None:
        return {}
    section: dict[str, Any] = {"url": url}
    for key in ("gateway", "base_topic", "discovery_prefix"):
        if options.get(key):
            section[key] = options[key]
    if section.get("gateway") and section.get("base_topic") == DEFAULT_BASE_TOPIC:
        del section["base_topic"]  # a named gateway's own default is batmux/<gateway> (fleet)
    return {"mqtt": section}


def _battery(entry: Mapping[str, Any]) -> dict[str, Any]:
    # Empty optional fields in the UI arrive as "" or are left out: both mean "not set".
    return {k: entry[k] for k in BATTERY_KEYS if entry.get(k) not in (None, "")}


def _bank(entry: Mapping[str, Any]) -> dict[str, Any]:
    bank: dict[str, Any] = {"name": entry.get("name"), "members": list(entry.get("members", []))}
    if entry.get("mode"):
        bank["mode"] = entry["mode"]
    return bank


def ingress_web(token: str) -> dict[str, Any]:
    """The dashboard on the ingress port: the ingress proxy is trusted, others need ``token``."""
    return {
        "listen": f"0.0.0.0:{INGRESS_PORT}",
        "token": token,
        "trusted_clients": [INGRESS_PROXY],
    }


def web_token(data: Path) -> str:
    """This install's dashboard token, made once and kept under /data (mode 0600)."""
    path = data / WEB_TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if len(token) < 16:
        token = secrets.token_urlsafe(24)
        data.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    return token


def options_to_config(
    options: Mapping[str, Any],
    service: Mapping[str, Any] | None,
    custom: Mapping[str, Any] | None = None,
    data: Path = DATA,
    token: str | None = None,
) -> dict[str, Any]:
    """The batmux config (a plain dict, validated later) for these add-on options.

    With ``custom_config: true`` the user's own file is used as it is, except that the
    Supervisor's broker fills in a missing ``mqtt:``, the dashboard a missing ``web:``, and
    state stays under /data. ``token`` (the dashboard's) turns the ingress dashboard on.
    """
    if options.get("custom_config"):
        config = dict(custom or {})
        if "mqtt" not in config:
            config.update(_mqtt_section(options, service))
        if token and "web" not in config:
            config["web"] = ingress_web(token)
        config.setdefault("state_dir", str(data / "state"))
        return config
    config = _mqtt_section(options, service)
    if token:
        config["web"] = ingress_web(token)
    for key in PLAIN:
        if options.get(key) is not None:
            config[key] = options[key]
    config["state_dir"] = str(data / "state")
    config["batteries"] = [_battery(b) for b in options.get("batteries", [])]
    config["groups"] = [_bank(b) for b in options.get("banks", [])]
    return config


def prepare(
    options_file: Path,
    out: Path,
    service: Mapping[str, Any] | None,
    custom_file: Path = CUSTOM_CONFIG,
) -> list[str]:
    """Write the config to ``out`` (mode 0600: it holds the broker password), with state in
    ``state/`` beside it; returns the verbosity flags for ``batmux``. Raises ConfigError with
    ``file: field: reason``."""
    options = _read(options_file, json.loads)
    if not isinstance(options, dict):
        raise ConfigError(options_file.name, "", "the options must be a JSON object")
    custom = None
    if options.get("custom_config"):
        # the same strict reader as `batmux run` (a key given twice is an error, not the last)
        custom = read_config_data(custom_file) if custom_file.exists() else None
        if custom is None:
            raise ConfigError(str(custom_file), "", "custom_config is on but the file is missing")
    config = options_to_config(options, service, custom, out.parent, web_token(out.parent))
    # Checked here with the options' names, so the log points at what the user can change.
    parse_config(config, str(custom_file) if custom is not None else "add-on options")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            "# Written by the batmux add-on from its options at every start; edits are lost.\n"
        )
        yaml.safe_dump(config, fh, sort_keys=False)
    os.replace(tmp, out)
    return LOG_FLAGS.get(str(options.get("log_level", "info")), ["-v"])


def _read(path: Path, parse: Any) -> Any:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "", exc.strerror or "cannot be read") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "", f"not valid: {str(exc).splitlines()[0]}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batmux.addon")
    parser.add_argument("action", choices=["prepare", "run"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--custom", type=Path, default=CUSTOM_CONFIG)
    args = parser.parse_args(argv)
    out = args.data / "batmux.yaml"
    try:
        service = supervisor_mqtt(
            os.environ.get("BATMUX_SUPERVISOR_URL", SUPERVISOR_URL),
            os.environ.get("SUPERVISOR_TOKEN"),
        )
    except SupervisorError as exc:
        print(f"batmux add-on: {exc}; continuing without the Supervisor's broker", file=sys.stderr)
        service = None
    if service is None:
        print("batmux add-on: no MQTT broker from the Supervisor (install Mosquitto)", flush=True)
    try:
        flags = prepare(args.data / "options.json", out, service, args.custom)
    except ConfigError as exc:
        print(f"batmux: {exc}", file=sys.stderr)
        return 2
    from batmux.cli import main as cli_main  # the exact check `batmux check-config` makes

    if (code := cli_main(["check-config", str(out)])) != 0:
        return code
    if args.action == "prepare":
        return 0
    os.chdir(args.data)
    batmux = Path(sys.executable).with_name("batmux")
    cmd = [str(batmux), *flags, "run", "--config", str(out)]
    os.execv(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
