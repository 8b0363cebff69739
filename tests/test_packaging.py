"""The service files call the CLI with options it accepts."""

from __future__ import annotations

import shlex

from batmux.cli import build_parser
from conftest import REPO

UNIT = REPO / "packaging" / "systemd" / "batmux.service"


def _commands(key: str) -> list[list[str]]:
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    return [shlex.split(line.split("=", 1)[1])[1:] for line in lines]


def test_systemd_unit_runs_real_commands() -> None:
    (argv,) = _commands("ExecStart")
    args = build_parser().parse_args(argv)
    assert args.command == "run"
    assert "/etc/batmux/batmux.yaml" in argv
    # no separate check-config before it: `run` checks the config itself and exits 2
    assert _commands("ExecStartPre") == []


def test_systemd_unit_does_not_restart_on_config_errors() -> None:
    text = UNIT.read_text()
    assert "RestartPreventExitStatus=2" in text  # exit 2 = config error (see README)
    assert "Restart=on-failure" in text  # exit 3 = watchdog: restart
