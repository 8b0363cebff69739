"""``batmux run`` validates its config in a child process and runs on slim models (issue 17).

What the gateway process holds must be what pydantic built: for every config the repository
has (the YAML blocks of the docs and README, the Venus example file, the demos' and the
add-on's configs, and the configs below that use every section), a process in slim mode loads
it through ``batmux.config_child`` and its tree (classes, every field value, the fields set,
recursively: ``config_records.to_record``) must equal the tree pydantic builds in this process.
Every config class built with its defaults must also agree in both modes, and so must what
runtime code calls on them (``model_dump``, ``model_copy``, ``repr``, equality, hash).
A bad config stops ``batmux run`` with the same one line and exit code as before.
"""

from __future__ import annotations

import ast
import importlib
import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from batmux.addon import options_to_config
from batmux.cli import _load, _load_for_run
from batmux.config import load_config, parse_config
from batmux.config_records import field_names, to_record
from batmux.errors import ConfigError
from batmux.runtime.demo import demo_config
from batmux.runtime.demo_netzero import netzero_demo_config

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "batmux"
BATMUX = [sys.executable, "-m", "batmux.cli"]
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # 32 bytes, base64

# Every section and every kind of value: nested models, lists and dicts of models, unions
# told apart by ``type:``, tuples (a Junctek curve), a dict of options, before-validators
# (``mqtt.gateway`` sets ``base_topic``) and defaults built by factories (limit tables).
HOME = f"""
mqtt:
  url: "mqtts://user:secret@broker.lan:8883"
  gateway: garage
  tls: {{ca_file: /etc/ssl/ca.pem, insecure: true}}
  keepalive: 60
sample_period: 2
publish_period: 4
bluetooth_proxies:
  - {{name: shed, host: 10.0.0.5, encryption_key: "{KEY}"}}
batteries:
  - name: a
    type: jbd
    address: "A4:C1:37:00:00:01"
    adapter: proxy:shed
    allow_control: true
    limits:
      cell_voltage_max: 3.5
      max_charge_current: 100
      charge_soc_table: {{x: [98, 95], y: [0.1, 1]}}
      soc_reset_after_days: 30
    coulomb_counter: {{capacity_ah: 280, current_from: shunt}}
    ble: {{stuck_after: 5, pair: false}}
  - name: b
    type: jk
    sim: {{cells: 8, load: {{kind: constant, amplitude: 5, offset: 2}}, seed: 7}}
    allow_control: true
  - name: wired
    type: daly
    address: /dev/ttyUSB0
    serial: {{baudrate: 9600, parity: E, stopbits: 1.5}}
  - name: shunt
    type: junctek
    address: /dev/ttyUSB1
    junctek:
      rs485_address: 3
      capacity_ah: 280
      soc_fallback: {{cells: 16, curve: [[2.5, 0], [3.3, 50], [3.6, 100]]}}
  - name: can_pack
    type: pylontech_can
    address: can0
    can: {{interface: slcan, channel: /dev/ttyACM0, bitrate: 250000,
           options: {{tty_baudrate: 115200, rtscts: true, name: x, gain: 1.5}}}}
  - name: watchmon
    type: batrium
    address: can1
    batrium: {{base_id: 0x500}}
    can: {{interface: socketcan, channel: can1}}
  - name: mppt
    type: vedirect
    port: /dev/ttyUSB2
  - name: remote
    type: mqtt_json
    topic: other/bms
    url: mqtt://other.lan
  - name: gen24_side
    type: byd_modbus
    address: 192.168.1.9:502
groups:
  - name: bank
    members: [a, b]
    min_members: 1
    limits: {{max_charge_current: 150}}
    charge_switch: {{stop_soc: 90, start_soc: 80, calibration_days: null}}
    coulomb_counter: {{enabled: false}}
  - name: all
    mode: series
    members: [bank, wired]
inverters:
  - {{type: byd_modbus, battery: bank, listen: "0.0.0.0:5020", soc_window: {{min: 10, max: 95}}}}
  - type: byd_can
    battery: bank
    can: {{interface: virtual, channel: inv}}
    periods: {{limits: 1}}
    identity: {{capacity_kwh: 10}}
  - {{type: pylontech_can, name: victron, battery: all, variant: v1.3, victron_extras: true}}
venus:
  - {{battery: bank, device_instance: 100}}
  - {{battery: a, device_instance: 101, is_bms: false, name: pack_a}}
victron_input:
  shunts: [{{service: ttyS5, role: dc_load}}, {{service: com.victronenergy.battery.x}}]
mqtt_json_output:
  - {{battery: bank, topic: dbus-mqtt-battery/bank, retain: true}}
web: {{listen: "0.0.0.0:8080", token: secret-token, trusted_clients: [172.30.32.2],
       base_path: /batmux}}
history: {{retention_days: 7, bucket_s: 60}}
influxdb: {{url: "http://influx.lan:8086/", org: home, bucket: batteries, token: t}}
"""

EV = """
sample_period: 0.5
batteries:
  - name: tesla
    type: tesla_model3
    address: can0
    can: {interface: virtual, channel: ev}
    allow_control: true
    limits: {cell_count: 48, alarm_limits: false}
    contactors:
      close_on_start: true
      open_on_inverter_silent: 30
      car_config: {country: GB, right_hand_drive: false}
    relays:
      backend: gpiod
      precharge: {line: 17, active_low: true}
      main: {line: 27}
  - name: leaf
    type: nissan_leaf
    address: sim
    poll_interval: 0
inverters:
  - {type: pylontech_can, battery: tesla, can: {interface: virtual, channel: inv}}
"""

NETZERO = """
mqtt: {url: "mqtt://127.0.0.1:1883"}
batteries:
  - {name: bank, type: jk, address: sim}
  - {name: mppt, type: vedirect, address: sim}
netzero:
  battery: bank
  target_w: -20
  mode: charge
  consumption:
    - mqtt: {topic: meter/power, format: json, path: emeters.0.power, signed: false}
    - http: {url: "http://meter.lan/status", path: total_power, interval: 2}
  inverters:
    - {type: opendtu, url: "http://dtu.lan", serial: "1141", max_power: 800}
    - {type: ahoydtu, url: "http://ahoy.lan", id: 1, max_power: 600, power_lut: hm600.lut}
  chargers:
    - {type: shelly, url: "http://shelly.lan", gen: 2, power: 500, role: heater}
    - {type: vedirect, battery: mppt, role: solar}
  guards: {cell_low: 3.0, mqtt_offline: 30}
"""

RELAYS_HTTP = """
mqtt: {url: "mqtt://127.0.0.1:1883"}
batteries:
  - name: tesla
    type: tesla_model3
    address: sim
    allow_control: true
    contactors: {}
    relays:
      backend: mqtt
      precharge: {topic: relays/pre}
      main: {topic: relays/main, "on": "1", "off": "0"}
"""

BUILT_IN = {"home": HOME, "ev": EV, "netzero": NETZERO, "relays": RELAYS_HTTP}

SLIM_LOADER = """
import marshal, sys
from batmux import modelkit
from batmux.cli import _load_for_run
from batmux.config_records import to_record

out = []
for path in sys.argv[1:]:
    config = _load_for_run(path)
    out.append(config if isinstance(config, int) else to_record(config))
assert modelkit.mode() == "slim"
loaded = [m for m in ("pydantic", "pydantic_core", "yaml") if m in sys.modules]
sys.stdout.buffer.write(marshal.dumps({"trees": out, "loaded": loaded}))
"""


def doc_configs() -> dict[str, Any]:
    """Every YAML block of the README and docs that is a whole, valid config."""
    found: dict[str, Any] = {}
    for md in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", md.read_text(), re.S)):
            data = yaml.safe_load(block)
            if not isinstance(data, dict):
                continue
            try:
                parse_config(data, md.name)
            except ConfigError:
                continue  # a fragment (one section) needing the rest of a config
            found[f"{md.relative_to(ROOT)}[{i}]"] = data
    return found


def repo_configs(tmp_path: Path) -> dict[str, Path]:
    """name → config file: the built-in configs, the docs', the example file, the demos' and
    the add-on's (from the manifest's default options plus batteries and a bank)."""
    data: dict[str, Any] = {name: yaml.safe_load(text) for name, text in BUILT_IN.items()}
    data.update(doc_configs())
    data["demo"] = demo_config("mqtt://127.0.0.1:1883", str(tmp_path / "s"), 5020, 8080)
    data["demo --ev"] = demo_config(None, str(tmp_path / "s"), 5020, None, ev=True)
    data["demo --netzero"] = netzero_demo_config(str(tmp_path), "http://m", "http://d")
    manifest = yaml.safe_load((ROOT / "ha-addon" / "batmux" / "config.yaml").read_text())
    options = {
        **manifest["options"],
        "batteries": [{"name": "house", "type": "jk", "address": "C8:47:80:00:00:01"}],
        "banks": [{"name": "bank", "members": ["house"]}],
    }
    service = {"host": "core-mosquitto", "port": 1883, "username": "addons", "password": "pw"}
    data["add-on"] = options_to_config(options, service, None, tmp_path, "t" * 24)
    paths = {"packaging/venus/batmux.example.yaml": ROOT / "packaging/venus/batmux.example.yaml"}
    for i, (name, config) in enumerate(data.items()):
        path = tmp_path / f"config{i}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        paths[name] = path
    return paths


def run_slim(code: str, *args: str, cwd: Path | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, timeout=300, cwd=cwd
    )
    assert done.returncode == 0, done.stderr.decode()
    return marshal.loads(done.stdout)


def test_every_repo_config_loads_in_slim_mode_to_the_tree_pydantic_builds(
    tmp_path: Path,
) -> None:
    paths = repo_configs(tmp_path)
    assert len(paths) >= 30  # the docs' blocks were found
    expected = [repr(to_record(load_config(p))) for p in paths.values()]
    report = run_slim(SLIM_LOADER, *map(str, paths.values()))
    assert report["loaded"] == []  # the slim process never imported pydantic or PyYAML
    for name, want, got in zip(paths, expected, report["trees"], strict=True):
        assert repr(got) == want, name  # repr: 1 and 1.0 are not the same setting


def config_classes() -> list[type]:
    """Every model class of every module that takes its names from batmux.modelkit."""
    base = importlib.import_module("batmux.modelkit").BaseModel
    classes = []
    for module_name in config_modules():
        module = importlib.import_module(module_name)
        classes += [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, base) and v.__module__ == module_name
        ]
    return classes


def config_modules() -> list[str]:
    return sorted(
        "batmux." + ".".join(p.relative_to(SRC).with_suffix("").parts)
        for p in SRC.rglob("*.py")
        if "from batmux.modelkit import" in p.read_text()
    )


DEFAULTS_CHILD = """
import json, marshal, sys
from batmux import modelkit
modelkit.use_slim()
from batmux.config_records import field_names, model_class, to_record

out = {}
for path in json.loads(sys.argv[1]):
    cls = model_class(path)
    try:
        model = cls()
    except TypeError:
        out[path] = ["required", field_names(cls)]
        continue
    out[path] = [repr(to_record(model)), field_names(cls), repr(model), repr(model.model_dump())]
assert modelkit.mode() == "slim" and "pydantic" not in sys.modules
sys.stdout.buffer.write(marshal.dumps(out))
"""


def describe_defaults(cls: type) -> list[Any]:
    """What the slim side must reproduce for ``cls()``; None when pydantic rejects the
    defaults themselves (e.g. InfluxConfig needs a database): slim mode never validates."""
    from pydantic import ValidationError

    try:
        model = cls()
    except ValidationError as exc:
        if all(e["type"] == "missing" for e in exc.errors()):
            return ["required", field_names(cls)]
        return ["invalid defaults"]
    return [repr(to_record(model)), field_names(cls), repr(model), repr(model.model_dump())]


def test_every_config_class_has_the_same_fields_and_defaults_in_both_modes() -> None:
    classes = {f"{c.__module__}:{c.__qualname__}": c for c in config_classes()}
    assert len(classes) > 50 and "batmux.config:Config" in classes
    slim = run_slim(DEFAULTS_CHILD, json.dumps(list(classes)))
    checked = 0
    for path, cls in classes.items():
        want = describe_defaults(cls)
        if want == ["invalid defaults"]:
            assert slim[path][1] == field_names(cls), path
            continue
        assert slim[path] == want, path
        checked += 1
    assert checked > 40


RUNTIME_CHILD = """
import marshal, sys
from batmux import modelkit
modelkit.use_slim()
from batmux.config import Config, MqttConfig
from batmux.core.bank import DEFAULT_LIMITS
from batmux.core.contactor_config import CarConfigSettings
from batmux.links.can_config import CanBusConfig
from batmux.sinks.observe_config import HistoryConfig

can = CanBusConfig(interface="virtual", channel="x", options={"a": 1})
copy = can.model_copy(update={"log": "f.log"})
out = {
    "copy": repr(copy), "copy_set": sorted(copy.model_fields_set),
    "original": repr(can), "equal": can == CanBusConfig(interface="virtual", channel="x",
    options={"a": 1}), "unequal": can == copy,
    "hash": hash(HistoryConfig()) == hash(HistoryConfig()),
    "dump": repr(CarConfigSettings(country="GB").model_dump()),
    "limits": repr(DEFAULT_LIMITS.charge_soc_table.table),
    "config": repr(Config().model_dump()),
    "mqtt": repr(MqttConfig(url="mqtt://h")),
}
try:
    can.channel = "y"
except Exception as exc:
    out["frozen"] = "frozen" in str(exc)
sys.stdout.buffer.write(marshal.dumps(out))
"""


def test_what_runtime_code_calls_on_config_models_behaves_as_with_pydantic() -> None:
    from batmux.config import Config, MqttConfig
    from batmux.core.bank import DEFAULT_LIMITS
    from batmux.core.contactor_config import CarConfigSettings
    from batmux.links.can_config import CanBusConfig
    from batmux.sinks.observe_config import HistoryConfig

    can = CanBusConfig(interface="virtual", channel="x", options={"a": 1})
    copy = can.model_copy(update={"log": "f.log"})
    want = {
        "copy": repr(copy),
        "copy_set": sorted(copy.model_fields_set),
        "original": repr(can),
        "equal": True,
        "unequal": False,
        "hash": hash(HistoryConfig()) == hash(HistoryConfig()),
        "dump": repr(CarConfigSettings(country="GB").model_dump()),
        "limits": repr(DEFAULT_LIMITS.charge_soc_table.table),
        "config": repr(Config().model_dump()),
        "mqtt": repr(MqttConfig(url="mqtt://h")),
        "frozen": True,
    }
    assert run_slim(RUNTIME_CHILD) == want


BAD_CONFIGS = {
    "unknown key": "batteries:\n  - name: a\n    type: jk\n    sim: {cels: 4}\n",
    "yaml syntax": "batteries: [\n",
    "duplicate key": "sample_period: 1\nsample_period: 2\n",
    "cross reference": "batteries: [{name: a, type: jk}]\ngroups: [{name: g, members: [b]}]\n",
    "two errors": "sample_period: -1\npublish_period: 0\n",
    "not utf-8": b"state_dir: caf\xe9\n",
    "top level": "- a\n- b\n",
    "unknown type": "batteries: [{name: a, type: nope}]\n",
}


@pytest.mark.parametrize("name", [*BAD_CONFIGS, "missing file"])
def test_a_bad_config_stops_run_with_the_same_line_and_code(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    text = BAD_CONFIGS.get(name)
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        path.with_name("state").mkdir()  # state_dir "state" is relative: nothing may go in
    assert _load(str(path)) == 2  # in-process, with pydantic: what `run` printed before
    before = capsys.readouterr().err
    assert before.startswith(f"batmux: {path}: ") and "Traceback" not in before
    done = subprocess.run(
        [*BATMUX, "run", "-c", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert (done.returncode, done.stderr) == (2, before)
    assert not any(tmp_path.glob("state/*"))


def test_no_module_but_modelkit_imports_pydantic_and_only_the_readers_import_yaml() -> None:
    importers: dict[str, list[str]] = {"pydantic": [], "pydantic_core": [], "yaml": []}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in importers:
                    importers[top].append(str(path.relative_to(SRC)))
    assert {k: sorted(set(v)) for k, v in importers.items()} == {
        "pydantic": ["modelkit.py"],  # its TYPE_CHECKING names; full mode imports by name
        "pydantic_core": ["modelkit.py"],
        "yaml": ["addon.py", "config_yaml.py"],
    }


def test_slim_mode_can_be_turned_off_and_is_skipped_once_pydantic_models_exist(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("batteries: [{name: a, type: jk}]\n")
    code = (
        "import sys\nfrom batmux import modelkit\nfrom batmux.cli import _load_for_run\n"
        "config = _load_for_run(sys.argv[1])\n"
        "print(modelkit.mode(), 'pydantic' in sys.modules, config.batteries[0].name)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "BATMUX_SLIM_CONFIG": "0"},
    )
    assert done.stdout.split() == ["full", "True", "a"], done.stderr
    # this process built pydantic models already: `run` validates in-process, as before
    config = _load_for_run(str(path))
    assert type(config).__mro__[-2].__module__.startswith("pydantic")
    assert config == load_config(path)


CHILD_FAILURES = {
    # name: (stub interpreter's shell body, what the parent's last line says)
    "garbage": ("printf 'not marshal'", "its result is unusable (ValueError"),
    "nothing": ("exit 0", "its result is unusable (EOFError"),
    "crash": ("echo 'Traceback: boom' >&2; exit 1", "it failed (exit 1)"),
    "killed": ("kill -9 $$", "it ended by signal 9"),
    "hangs": ("exec sleep 30", "it took longer than 0 s"),
}


@pytest.mark.parametrize("name", CHILD_FAILURES)
def test_a_config_check_that_does_not_finish_is_one_line_and_exit_1(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever becomes of the child (garbage on stdout, nothing, a crash, a signal, a hang),
    ``run`` says so in one ``batmux: file: ...`` line and exits 1 (a supervisor retries),
    never with a traceback of its own and never with 2 (a config error it is not)."""
    from batmux import config_child

    body, says = CHILD_FAILURES[name]
    stub = tmp_path / "python"
    stub.write_text(f"#!/bin/sh\n{body}\n")
    stub.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(stub))
    monkeypatch.setattr(config_child, "CHECK_TIMEOUT_S", 0.3)
    config = tmp_path / "batmux.yaml"
    assert config_child.load_checked(str(config)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith(f"batmux: {config}: the config check did not finish: {says}")
    if name == "crash":
        assert lines[0] == "Traceback: boom"  # the child's own words come first
