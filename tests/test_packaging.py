"""The service files call the CLI with options it accepts."""

from __future__ import annotations

import shlex

import pytest

from batmux.cli import build_parser
from conftest import REPO

UNIT = REPO / "packaging" / "systemd" / "batmux.service"


def _commands(key: str) -> list[list[str]]:
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    return [shlex.split(line.split("=", 1)[1])[1:] for line in lines]


@pytest.mark.parametrize("key", ["ExecStartPre", "ExecStart"])
def test_systemd_unit_runs_real_commands(key: str) -> None:
    (argv,) = _commands(key)
    args = build_parser().parse_args(argv)
    assert args.command in ("run", "check-config")
    assert "/etc/batmux/batmux.yaml" in argv


def test_systemd_unit_does_not_restart_on_config_errors() -> None:
    text = UNIT.read_text()
    assert "RestartPreventExitStatus=2" in text  # exit 2 = config error (see README)
    assert "Restart=on-failure" in text  # exit 3 = watchdog: restart
