"""``soc_window:`` on every inverter type: accepted, defaulted, rejected with file/field/reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from batmux.config import load_config, parse_config
from batmux.core.soc_window import SocWindow
from batmux.errors import ConfigError

BATTERIES = [{"name": "bank", "type": "jk"}]
ENTRIES = {
    "byd_modbus": {"type": "byd_modbus", "battery": "bank", "port": "/dev/ttyUSB0"},
    "byd_can": {"type": "byd_can", "battery": "bank"},
    "pylontech_can": {"type": "pylontech_can", "battery": "bank"},
}


@pytest.mark.parametrize("kind", ENTRIES)
def test_window_parsed_and_default_none(kind: str) -> None:
    entry = ENTRIES[kind]
    cfg = parse_config({"batteries": BATTERIES, "inverters": [
        {**entry, "name": "a", "soc_window": {"min": 10, "max": 95}},
        {**entry, "name": "b"},
    ]})  # fmt: skip
    windowed, plain = cfg.inverters
    assert windowed.soc_window is not None and windowed.soc_window.window == SocWindow(10, 95)
    assert plain.soc_window is None


@pytest.mark.parametrize("kind", ENTRIES)
@pytest.mark.parametrize(
    ("window", "field", "message"),
    [
        ({"min": 50, "max": 50}, "soc_window", "min < max"),
        ({"min": 90, "max": 10}, "soc_window", "min < max"),
        ({"min": -5, "max": 90}, "soc_window.min", "greater than or equal to 0"),
        ({"min": 10, "max": 100.5}, "soc_window.max", "less than or equal to 100"),
        ({"min": 10}, "soc_window.max", "Field required"),
        ({"min": 10, "max": 90, "hysteresis": 2}, "soc_window.hysteresis", "unknown key"),
        ({"low": 10, "high": 90}, "soc_window", ""),
    ],
)
def test_bad_windows_rejected(kind: str, window: dict, field: str, message: str) -> None:
    entry = {**ENTRIES[kind], "soc_window": window}
    with pytest.raises(ConfigError) as info:
        parse_config({"batteries": BATTERIES, "inverters": [entry]}, "site.yaml")
    err = info.value
    assert err.file == "site.yaml" and err.field.startswith("inverters")
    assert field in err.field and message in err.reason


def test_error_line_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "batmux.yaml"
    entry = {**ENTRIES["byd_can"], "soc_window": {"min": 95, "max": 10}}
    path.write_text(yaml.safe_dump({"batteries": BATTERIES, "inverters": [entry]}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: inverters")
    assert "soc_window" in str(info.value) and "min < max" in str(info.value)
