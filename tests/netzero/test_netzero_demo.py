"""`batmux demo --netzero` runs (or says clearly what it lacks)."""

from __future__ import annotations

import importlib.util

import pytest

from batmux.cli import main


def test_demo_netzero(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["demo", "--netzero", "--duration", "3"])
    out = capsys.readouterr().out
    if importlib.util.find_spec("batmux.sim.ahoydtu") is None:
        assert rc == 2
        assert "the AhoyDTU simulator (batmux.sim.ahoydtu) is not part of this build" in out
    else:
        assert rc == 0
        assert "grid" in out and "inverter" in out
