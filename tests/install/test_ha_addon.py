"""The add-on repository checked against the Supervisor's own rules, written down from its source.

Rules from home-assistant/supervisor (supervisor/addons/validate.py, options.py, const.py,
store/data.py, store/validate.py):

- the repository root holds ``repository.(yaml|yml|json)`` with a ``name``;
- an add-on is every ``config.(yaml|yml|json)`` below the root (``**/config.*``), skipping
  dot-folders and ``rootfs``;
- config.yaml needs ``name``, ``version``, ``slug`` (``[-_.A-Za-z0-9]+``), ``description`` and
  ``arch`` (each one of armhf, armv7, aarch64, amd64, i386);
- ``startup``, ``boot``, ``stage`` take fixed words; ``services`` entries are
  ``(mqtt|mysql):(provide|want|need)``; ``map`` entries are folder names with ``:rw``/``:ro``;
- each schema leaf matches RE_SCHEMA_ELEMENT (``str``, ``int(min,max)``, ``float``, ``bool``,
  ``email``, ``url``, ``port``, ``password``, ``match(re)``, ``list(a|b)``, ``device``, with a
  trailing ``?`` for optional); a list holds exactly one element and not directly a list;
- the options are validated against the schema: unknown keys are dropped with a warning (we
  treat them as errors), required keys without a value fail the add-on start;
- build.yaml's ``build_from`` maps arch names to image references;
- translations/<lang>.yaml has ``configuration: {option: {name, description}}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import batmux
from batmux.devices.registry import known_types
from conftest import REPO

ADDON = REPO / "ha-addon" / "batmux"
CONFIG = yaml.safe_load((ADDON / "config.yaml").read_text())

ARCH_ALL = {"armhf", "armv7", "aarch64", "amd64", "i386"}
RE_SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}
STAGE = {"stable", "experimental", "deprecated"}
RE_SERVICE = re.compile(r"^(?P<service>mqtt|mysql):(?P<rights>provide|want|need)$")
RE_VOLUME = re.compile(
    r"^(data|config|ssl|addons|backup|share|media|homeassistant_config|all_addon_configs"
    r"|addon_config)(?::(rw|ro))?$"
)
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:"
    r"|bool|email|url|port"
    r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>\d+)?,(?P<i_max>\d+)?\))?"
    r"|float(?:\((?P<f_min>[\d\.]+)?,(?P<f_max>[\d\.]+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")\??$"
)
RE_DOCKER_IMAGE_BUILD = re.compile(
    r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?$"
)


def check_schema_element(element: Any, where: str) -> None:
    if isinstance(element, str):
        assert RE_SCHEMA_ELEMENT.match(element), f"{where}: unknown type {element!r}"
    elif isinstance(element, list):
        assert len(element) == 1, f"{where}: a list holds exactly one element"
        assert not isinstance(element[0], list), f"{where}: a list may not hold a list"
        check_schema_element(element[0], where + "[]")
    elif isinstance(element, dict):
        for key, sub in element.items():
            check_schema_element(sub, f"{where}.{key}")
    else:
        raise AssertionError(f"{where}: {element!r} is no schema element")


def validate_value(typ: Any, value: Any, where: str) -> None:
    """The Supervisor's AddonOptions check for one value (devices and secrets left out)."""
    if isinstance(typ, list):
        assert isinstance(value, list), f"{where}: invalid list"
        for item in value:
            validate_value(typ[0], item, where + "[]")
    elif isinstance(typ, dict):
        assert isinstance(value, dict), f"{where}: invalid dict"
        validate_options(typ, value, where)
    else:
        m = RE_SCHEMA_ELEMENT.match(typ)
        assert m, typ
        lo = next((m.group(g) for g in ("i_min", "f_min", "s_min", "p_min") if m.group(g)), None)
        hi = next((m.group(g) for g in ("i_max", "f_max", "s_max", "p_max") if m.group(g)), None)
        base = typ.rstrip("?")
        if base.startswith("int"):
            assert isinstance(value, int) and not isinstance(value, bool), where
        elif base.startswith("float"):
            assert isinstance(value, int | float) and not isinstance(value, bool), where
        elif base.startswith("bool"):
            assert isinstance(value, bool), where
        elif base.startswith("port"):
            assert isinstance(value, int) and 1 <= value <= 65535, where
        elif base.startswith("match"):
            assert re.match(m.group("match"), str(value)), f"{where}: {value!r} ≠ {typ}"
        elif base.startswith("list"):
            assert str(value) in m.group("list").split("|"), f"{where}: {value!r} ∉ {typ}"
        else:
            assert isinstance(value, str), where
        measure = len(value) if base.startswith(("str", "password")) else value
        if lo is not None:
            assert measure >= float(lo), f"{where}: below {lo}"
        if hi is not None:
            assert measure <= float(hi), f"{where}: above {hi}"


def validate_options(schema: dict[str, Any], options: dict[str, Any], where: str) -> None:
    unknown = set(options) - set(schema)
    assert not unknown, f"{where}: options not in the schema: {unknown}"
    for key, value in options.items():
        validate_value(schema[key], value, f"{where}.{key}")
    for key, typ in schema.items():
        leaf = typ[0] if isinstance(typ, list) and typ else typ
        optional = isinstance(leaf, str) and leaf.endswith("?")
        assert key in options or optional, f"{where}: missing option {key!r}"


def test_repository_file_at_the_root() -> None:
    repo = yaml.safe_load((REPO / "repository.yaml").read_text())
    assert isinstance(repo["name"], str) and repo["name"]
    assert set(repo) <= {"name", "url", "maintainer"}


def test_the_supervisor_finds_exactly_one_addon() -> None:
    found = [
        p
        for p in REPO.glob("**/config.*")
        if p.suffix in (".yaml", ".yml", ".json")
        and not any(part.startswith(".") or part == "rootfs" for part in p.relative_to(REPO).parts)
    ]
    assert found == [ADDON / "config.yaml"]


def test_required_keys_and_fixed_words() -> None:
    for key in ("name", "version", "slug", "description", "arch"):
        assert CONFIG.get(key) not in (None, ""), key
    assert isinstance(CONFIG["version"], str)  # "0.1.0", never a YAML float like 0.1
    assert RE_SLUG.match(CONFIG["slug"])
    assert CONFIG["arch"] and set(CONFIG["arch"]) <= ARCH_ALL
    assert CONFIG.get("startup", "application") in STARTUP
    assert CONFIG.get("boot", "auto") in BOOT
    assert CONFIG.get("stage", "stable") in STAGE
    assert all(RE_SERVICE.match(s) for s in CONFIG.get("services", []))
    assert all(RE_VOLUME.match(v) for v in CONFIG.get("map", []))
    assert 1 <= CONFIG.get("ingress_port", 8099) <= 65535
    assert str(CONFIG.get("panel_icon", "mdi:puzzle")).startswith("mdi:")


def test_what_batmux_needs_from_the_supervisor() -> None:
    assert CONFIG["host_dbus"] is True  # BlueZ over the host's system bus
    assert "mqtt:need" in CONFIG["services"]  # the services API answers /services/mqtt
    assert CONFIG["init"] is False  # the base image's s6-overlay is PID 1
    assert CONFIG["version"] == batmux.__version__  # the build installs this release


def test_schema_elements_are_supervisor_types() -> None:
    check_schema_element(CONFIG["schema"], "schema")


def test_default_options_pass_the_schema() -> None:
    validate_options(CONFIG["schema"], CONFIG["options"], "options")


def test_a_filled_in_form_passes_the_schema() -> None:
    options = {
        **CONFIG["options"],
        "batteries": [
            {
                "name": "garage",
                "type": "jk",
                "address": "C8:47:8C:00:00:01",
                "adapter": "hci0",
                "pin": "1234",
                "advertisement_key": "00112233445566778899aabbccddeeff",
                "current_calibration": 1.0,
                "invert_current": False,
            }
        ],
        "banks": [{"name": "house", "members": ["garage"], "mode": "parallel"}],
        "mqtt_url": "mqtt://broker:1883",
    }
    validate_options(CONFIG["schema"], options, "options")
    with pytest.raises(AssertionError):
        validate_options(CONFIG["schema"], {**options, "log_level": "loud"}, "options")


def test_battery_types_offered_are_known_types() -> None:
    m = RE_SCHEMA_ELEMENT.match(CONFIG["schema"]["batteries"][0]["type"])
    assert m and set(m.group("list").split("|")) <= set(known_types())


def test_build_yaml() -> None:
    build = yaml.safe_load((ADDON / "build.yaml").read_text())
    assert set(build["build_from"]) == set(CONFIG["arch"])
    for image in build["build_from"].values():
        assert RE_DOCKER_IMAGE_BUILD.match(image), image
    assert all(isinstance(v, str) for v in build.get("labels", {}).values())
    assert all(isinstance(v, str) for v in build.get("args", {}).values())


def test_translations_cover_every_option() -> None:
    for path in (ADDON / "translations").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())["configuration"]
        assert set(config) == set(CONFIG["schema"]), path.name
        for key, text in config.items():
            assert isinstance(text["name"], str) and text["name"], f"{path.name}: {key}"
            assert isinstance(text.get("description", ""), str)


def test_docs_describe_every_option() -> None:
    docs = (ADDON / "DOCS.md").read_text()
    for key in CONFIG["schema"]:
        assert f"`{key}`" in docs, key
    for key in CONFIG["schema"]["batteries"][0]:
        assert f"`{key}`" in docs, key


def test_addon_files_present_and_run_sh_executable() -> None:
    for name in ("Dockerfile", "build.yaml", "run.sh", "DOCS.md", "README.md"):
        assert (ADDON / name).is_file(), name
    assert (ADDON / "run.sh").stat().st_mode & 0o111
    assert Path(ADDON / "run.sh").read_text().startswith("#!/bin/sh\n")
