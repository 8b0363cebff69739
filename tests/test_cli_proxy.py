"""``batmux scan --proxy NAME`` and ``batmux demo --proxy`` through the CLI entry point."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from batmux.cli import main
from batmux.sim.esphome_proxy import AirDevice, SimProxy
from proxy_helpers import KEY, air_device, sim_battery


async def test_scan_through_a_configured_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with SimProxy("garage", encryption_key=KEY) as sim:
        sim.hear(air_device("jbd", sim_battery()), rssi=-61)
        sim.hear(AirDevice("11:22:33:44:55:66", "Kettle"), rssi=-80)
        (tmp_path / "batmux.yaml").write_text(
            "bluetooth_proxies:\n"
            f"  - {{name: garage, host: 127.0.0.1, port: {sim.port}, encryption_key: '{KEY}'}}\n"
        )
        args = ["scan", "--proxy", "garage", "--timeout", "0.6", "--write", "found.yaml"]
        code = await asyncio.to_thread(main, args)  # the CLI runs its own event loop
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"A4:C1:38:00:00:01\s+-61\s+jbd\s+xiaoxiang BMS", out), out
    assert re.search(r"11:22:33:44:55:66\s+-80\s+\?\s+Kettle", out), out
    written = (tmp_path / "found.yaml").read_text()
    assert "type: jbd" in written and "adapter: proxy:garage" in written


def test_scan_names_an_unknown_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "batmux.yaml").write_text("batteries: []\n")
    assert main(["scan", "--proxy", "nowhere:x"]) != 0
    assert "no bluetooth_proxies entry 'nowhere:x'" in capsys.readouterr().err


def test_demo_reads_its_batteries_through_the_simulated_proxy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "220")
    assert main(["demo", "--proxy", "--duration", "2.5"]) == 0
    out = capsys.readouterr().out
    assert "simulated ESPHome Bluetooth proxy (native API, Noise-encrypted)" in out
    for battery in ("jk_garage", "jbd_garage", "daly_rv"):
        assert re.search(rf"{battery}\s+│ online", out), out[-3000:]
