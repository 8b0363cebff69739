"""Recognition of BLE batteries from advertisements, and the starter config it writes."""

from __future__ import annotations

import yaml

from batmux.config import Config
from batmux.devices.registry import DEVICE_TYPES
from batmux.devices.scan import (
    ADVERTISING_HINTS,
    Hints,
    ScanResult,
    guess_type,
    registered_hints,
    starter_config,
)
from batmux.links.ble import uuid16

FFE0, FF00, FFF0 = uuid16(0xFFE0), uuid16(0xFF00), uuid16(0xFFF0)


def test_names_services_and_manufacturer_ids() -> None:
    hints = ADVERTISING_HINTS
    assert guess_type("JK_B2A8S20P", [FFE0], {0x0B65: b"\x01"}, hints) == "jk"
    assert guess_type(None, ["ffe0"], {0x4B4A: b""}, hints) == "jk"  # no name: service + maker id
    assert guess_type("ANT-BLE16ZMUB", [FFE0], {}, hints) == "ant"
    assert guess_type("SP04S034-L4S-200A", [FF00], {}, hints) == "jbd"
    assert guess_type("SX100P-B230201", [FF00], {}, hints) == "jbd"  # Supervolt v3 speaks JBD
    assert guess_type("DL-40D63C3223A1", [FFF0], {0x0302: b""}, hints) == "daly_modbus"
    assert guess_type("SOK-24V100", [FFF0], {}, hints) == "sok"
    assert guess_type("libatt", ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"], {}, hints) == "supervolt"
    assert guess_type("SmartShunt HQ2233", [], {0x02E1: b"\x10\x02"}, hints) == "victron_smartshunt"


def test_weak_or_ambiguous_evidence_is_no_guess() -> None:
    hints = ADVERTISING_HINTS
    assert guess_type("Galaxy Buds", [], {0x0075: b""}, hints) is None
    assert guess_type(None, [FFE0], {}, hints) is None  # JK, ANT and SOK all serve FFE0
    assert guess_type(None, [FFF0], {}, hints) is None  # Daly or SOK?
    assert guess_type("", [], {}, {}) is None


def test_only_registered_types_are_guessed() -> None:
    hints = registered_hints()  # the default: from the registry, so a guess is a valid type
    assert "jk" in hints and "jk02_24s" not in hints  # one entry per driver family
    assert all(DEVICE_TYPES[name].transport == "ble" for name in hints)
    assert guess_type("JK-house", [FFE0], {0x0B65: b""}) == "jk"
    mine = {"mine": Hints((r"^X$",), (), (7,))}
    assert guess_type("X", [], {}, mine) == "mine"  # a name alone is enough
    assert guess_type("Y", [], {7: b""}, mine) == "mine"  # so is a manufacturer id


def test_starter_config_is_a_valid_config() -> None:
    results = [
        ScanResult("C8:47:8C:00:00:0A", "JK_B2A8S20P", -58, "jk"),
        ScanResult("12:34:56:78:90:12", "JK_B2A8S20P", -70, "jk"),
        ScanResult("AA:BB:CC:DD:EE:FF", "Galaxy Buds", -40, None),
    ]
    text = starter_config(results, adapter="hci1")
    config = Config.model_validate(yaml.safe_load(text))
    assert [b.name for b in config.batteries] == ["JK_B2A8S20P", "JK_B2A8S20P_2"]
    assert config.batteries[1].address == "12:34:56:78:90:12"  # quoted: not a base-60 number
    assert {b.type for b in config.batteries} == {"jk"} and config.batteries[0].adapter == "hci1"
    assert "AA:BB:CC:DD:EE:FF  Galaxy Buds" in text


def test_starter_config_without_batteries() -> None:
    text = starter_config([ScanResult("AA:BB:CC:DD:EE:FF", "", -40, None)])
    assert yaml.safe_load(text) == {"batteries": []}
