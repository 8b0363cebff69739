"""The Venus OS install/uninstall scripts, run into a scratch root (no venv, no daemontools)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
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


# -- end to end: a real venv from the wheel, the service's run script, update, uninstall -------


def _wheel(out: Path) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    repo = PACKAGING.parents[1]
    subprocess.run(
        [uv, "build", "--wheel", "--offline", "-q", "-o", str(out), str(repo)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("batmux-*.whl")
    return wheel


def _install_with_venv(root: Path, wheel: Path) -> str:
    """install.sh with its venv step: pip installs the wheel alone (no index here), and the
    venv then sees the locked dependencies through a .pth line, as Venus's own site packages
    would serve them through --system-site-packages on a GX."""
    env = {
        **os.environ,
        "BATMUX_ROOT": str(root),
        "PYTHON": str(Path(sys.base_prefix) / "bin" / "python3"),
        "PIP_NO_DEPS": "1",
        "PIP_NO_INDEX": "1",
    }
    done = subprocess.run(
        ["sh", str(PACKAGING / "install.sh"), str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    site = next((root / "data" / "batmux" / "venv" / "lib").glob("python3*/site-packages"))
    (site / "locked_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return done.stdout


def _service(root: Path, **extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BATMUX_HOME": str(root / "data" / "batmux"), **extra}
    return subprocess.Popen(
        ["sh", str(root / "data" / "batmux" / "service" / "run")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_end_to_end_install_run_update_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "gx"
    wheel = _wheel(tmp_path / "dist")
    out = _install_with_venv(root, wheel)
    app = root / "data" / "batmux"
    assert "wrote /data/batmux/batmux.yaml" in out
    batmux_exe = app / "venv" / "bin" / "batmux"
    version = subprocess.run([batmux_exe, "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("batmux ")

    # The user's config: one simulated pack, state in the scratch root (not the real /data).
    conf = app / "batmux.yaml"
    conf.write_text(
        f"state_dir: {app / 'state'}\npublish_period: 1\n"
        "batteries:\n  - {name: pack_a, type: jbd, sim: {cells: 4}}\n"
    )
    proc = _service(root)
    try:
        deadline = time.monotonic() + 60
        meters = app / "state" / "meters" / "pack_a.json"  # saved every 10 s and at exit
        while not meters.exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the service never saved state"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)  # svc -d sends TERM
        log, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, log
    assert "pack_a" in meters.read_text() or meters.stat().st_size > 0

    # Update: install again; the edited config and the state stay, the venv is refreshed.
    edited = conf.read_text()
    _install_with_venv(root, wheel)
    assert conf.read_text() == edited and meters.exists()
    assert (root / "data" / "rc.local").read_text().count(LINE) == 1

    run("uninstall.sh", root)
    assert not (app / "venv").exists() and conf.read_text() == edited and meters.exists()
    assert not (root / "service" / "batmux").is_symlink()
    run("uninstall.sh", root, "--purge")
    assert not app.exists()


def test_service_waits_and_retries_on_a_bad_config(tmp_path: Path) -> None:
    run("install.sh", tmp_path)  # without a venv: check-config comes from the dev install
    app = tmp_path / "data" / "batmux"
    (app / "venv" / "bin").mkdir(parents=True)
    (app / "venv" / "bin" / "batmux").symlink_to(Path(sys.executable).with_name("batmux"))
    (app / "batmux.yaml").write_text("batteries: [{name: a, type: jk, keepalive: 1}]\n")
    proc = _service(tmp_path, BATMUX_RETRY_S="0")
    log, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1  # supervise starts it again (after the wait on a GX: 60 s)
    assert "batteries[0].keepalive: unknown key (typo?)" in log
    assert "retrying in 0 s" in log


def test_log_service_uses_multilog_into_var_log() -> None:
    text = (PACKAGING / "service" / "log" / "run").read_text()
    assert "exec multilog t s25000 n4 /var/log/batmux" in text
