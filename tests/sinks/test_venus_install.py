"""The Venus OS install/uninstall scripts, run into a scratch root (no venv, no daemontools)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from batmux.config import parse_config

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "venus"
LINE = "ln -sfn /data/batmux/service /service/batmux # batmux service"


def run(script: str, root: Path, *args: str) -> str:
    if shutil.which("sh") is None:
        pytest.skip("no POSIX sh")
    env = {**os.environ, "BATMUX_ROOT": str(root), "BATMUX_SKIP_PIP": "1"}
    done = subprocess.run(
        ["sh", str(PACKAGING / script), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    )
    return done.stdout


def test_install_is_idempotent_and_survives_updates(tmp_path: Path) -> None:
    rc = tmp_path / "data" / "rc.local"
    rc.parent.mkdir()
    rc.write_text("#!/bin/sh\necho other-driver\n")
    run("install.sh", tmp_path)
    run("install.sh", tmp_path)  # an upgrade: nothing doubled
    app = tmp_path / "data" / "batmux"
    text = rc.read_text()
    assert text.count(LINE) == 1 and "echo other-driver" in text
    assert os.access(rc, os.X_OK)
    assert os.access(app / "service" / "run", os.X_OK)
    assert os.access(app / "service" / "log" / "run", os.X_OK)
    assert os.readlink(tmp_path / "service" / "batmux") == "/data/batmux/service"
    parse_config(yaml.safe_load((app / "batmux.yaml").read_text()), "batmux.yaml")


def test_install_keeps_an_edited_config(tmp_path: Path) -> None:
    run("install.sh", tmp_path)
    conf = tmp_path / "data" / "batmux" / "batmux.yaml"
    conf.write_text("publish_period: 2\n")
    run("install.sh", tmp_path)
    assert conf.read_text() == "publish_period: 2\n"


def test_uninstall_then_purge(tmp_path: Path) -> None:
    run("install.sh", tmp_path)
    rc = tmp_path / "data" / "rc.local"
    run("uninstall.sh", tmp_path)
    app = tmp_path / "data" / "batmux"
    assert "batmux" not in rc.read_text()
    assert not (tmp_path / "service" / "batmux").is_symlink()
    assert (app / "batmux.yaml").exists() and not (app / "service").exists()
    run("uninstall.sh", tmp_path, "--purge")
    assert not app.exists()
