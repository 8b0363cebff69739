"""The "class:instance" value of ClassAndVrmInstance and the settings path."""

from __future__ import annotations

import pytest

from batmux.links.venus_settings import format_class_instance, instance_path, parse_class_instance
from batmux.sinks.venus_config import VenusConfig


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("battery:512", ("battery", 512)),
        ("battery:0", ("battery", 0)),
        ("solarcharger:279", ("solarcharger", 279)),
        ("battery:", None),
        (":3", None),
        ("battery:-1", None),
        ("battery:1.5", None),
        ("battery", None),
        (512, None),
        (None, None),
    ],
)
def test_parse(value: object, parsed: tuple[str, int] | None) -> None:
    assert parse_class_instance(value) == parsed


def test_format_and_path() -> None:
    assert format_class_instance("battery", 100) == "battery:100"
    cfg = VenusConfig(battery="house-bank")
    assert cfg.settings_id == "batmux_house_bank"
    assert instance_path(cfg.settings_id) == (
        "/Settings/Devices/batmux_house_bank/ClassAndVrmInstance"
    )
    assert VenusConfig(battery="a", name="van").settings_id == "batmux_van"
