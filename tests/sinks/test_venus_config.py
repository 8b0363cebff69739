"""The ``venus:`` and ``victron_input:`` config sections."""

from __future__ import annotations

import pytest

from batmux.config import parse_config
from batmux.errors import ConfigError


def test_defaults_and_names() -> None:
    cfg = parse_config(
        {
            "batteries": [{"name": "bank-1", "type": "jk"}],
            "venus": [{"battery": "bank-1"}],
            "victron_input": {},
        }
    )
    venus = cfg.venus[0]
    assert venus.service_name == "com.victronenergy.battery.bank_1"
    assert (venus.device_instance, venus.is_bms, venus.disconnect_timeout) == (100, True, 60.0)
    assert cfg.victron_input is not None and cfg.victron_input.vebus
    assert parse_config({}).venus == []


def test_shunt_sign() -> None:
    cfg = parse_config(
        {
            "victron_input": {
                "shunts": [
                    {"service": "ttyS5", "role": "dc_load"},
                    {"service": "com.victronenergy.dcsource.x", "invert": True},
                ]
            }
        }
    )
    assert cfg.victron_input is not None
    load, src = cfg.victron_input.shunts
    assert (load.service_name, load.sign) == ("com.victronenergy.battery.ttyS5", -1.0)
    assert (src.service_name, src.sign) == ("com.victronenergy.dcsource.x", -1.0)


@pytest.mark.parametrize(
    ("venus", "message"),
    [
        ([{"battery": "a"}, {"battery": "b", "device_instance": 101}], "only one venus entry"),
        ([{"battery": "a"}, {"battery": "a", "is_bms": False, "device_instance": 2}], "twice"),
        ([{"battery": "a"}, {"battery": "b", "is_bms": False}], "device_instance 100"),
        ([{"battery": "a", "disconnect_timeout": 0}], "greater than 0"),
        ([{"battery": "a", "name": "x.y"}], "letters, digits"),
        ([{"battery": "a", "colour": "red"}], "unknown key"),
        ([{"battery": "nope"}], "not a configured battery or group"),
    ],
)
def test_bad_venus_config(venus: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"venus": venus}, "batmux.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("batmux.yaml: venus")
