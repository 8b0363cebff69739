"""The ``inverters:`` config list (type byd_modbus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.cli import main
from batmux.config import parse_config
from batmux.errors import ConfigError

BATTERIES = [{"name": "bank", "type": "jk"}]


def test_byd_modbus_entry_defaults() -> None:
    cfg = parse_config({"batteries": BATTERIES, "inverters": [
        {"name": "gen24", "type": "byd_modbus", "battery": "bank", "port": "/dev/ttyUSB0"},
        {"name": "gen24_tcp", "type": "byd_modbus", "battery": "bank",
         "listen": "127.0.0.1:5020", "fallback": "standby", "alive_timeout": 90},
    ]})  # fmt: skip
    rtu, tcp = cfg.inverters
    assert (rtu.unit_id, rtu.baudrate, rtu.fallback, rtu.alive_timeout) == (21, 9600, "fault", 120)
    assert rtu.on_inverter_silent == "stop"
    assert rtu.address is None and rtu.port == "/dev/ttyUSB0"
    assert tcp.address == ("127.0.0.1", 5020) and tcp.fallback == "standby"
    assert parse_config({"batteries": BATTERIES}).inverters == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"battery": "nope", "port": "/dev/ttyUSB0"}, "not a configured battery"),
        ({"battery": "bank"}, "exactly one of"),
        ({"battery": "bank", "port": "/dev/x", "listen": "h:1"}, "exactly one of"),
        ({"battery": "bank", "listen": "5020"}, "HOST:PORT"),
        ({"battery": "bank", "port": "/dev/x", "fallback": "off"}, "fallback"),
        ({"battery": "bank", "port": "/dev/x", "unit_id": 300}, "unit_id"),
        ({"battery": "bank", "port": "/dev/x", "on_inverter_silent": "halt"}, "on_inverter_silent"),
        ({"battery": "bank", "port": "/dev/x", "baud": 9600}, "unknown key"),
        ({"type": "sma_can", "battery": "bank", "port": "/dev/x"}, "type"),
    ],
)
def test_bad_entries(entry: dict, message: str) -> None:
    full = {"name": "inv", "type": "byd_modbus", **entry}
    with pytest.raises(ConfigError) as info:
        parse_config({"batteries": BATTERIES, "inverters": [full]})
    assert message in str(info.value)


def test_inverter_names_unique() -> None:
    entry = {"name": "inv", "type": "byd_modbus", "battery": "bank", "port": "/dev/x"}
    with pytest.raises(ConfigError, match="used twice"):
        parse_config({"batteries": BATTERIES, "inverters": [entry, entry]})


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("byd_modbus", {"port": "/dev/x"}), ("byd_can", {}), ("pylontech_can", {})],
)
def test_on_inverter_silent_everywhere(
    kind: str, extra: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"type": kind, "battery": "bank", **extra}
    cfg = parse_config({"batteries": BATTERIES, "inverters": [entry]})
    assert cfg.inverters[0].on_inverter_silent == "stop"  # the safe default
    again = {**entry, "on_inverter_silent": "report"}
    assert (
        parse_config({"batteries": BATTERIES, "inverters": [again]}).inverters[0].on_inverter_silent
        == "report"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(
        "batteries:\n  - {name: bank, type: jk}\ninverters:\n"
        f"  - {{type: {kind}, battery: bank, on_inverter_silent: halt"
        + "".join(f", {k}: {v}" for k, v in extra.items())
        + "}\n"
    )
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"batmux: {path}: inverters[0].") and "on_inverter_silent" in err
    assert "'report' or 'stop'" in err
