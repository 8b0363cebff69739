"""check-config matches the run (issue 11, item 13): every invalid config exits 2 with one
``batmux: file: field: reason`` line, never a traceback, in time linear in its size."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batmux.cli import main
from batmux.config import load_config, parse_config
from batmux.core.bank import BankEngine
from batmux.devices.registry import known_types
from batmux.errors import ConfigError
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sinks.json_text import dumps
from batmux.sinks.mqtt_json_config import MqttJsonOutputConfig
from batmux.sinks.mqtt_json_out import build_messages

EXAMPLES = 2_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 150


def check(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "batmux.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["check-config", str(path)])
    err = capsys.readouterr().err
    return code, err.replace(str(path), "FILE")


BAT = "batteries:\n  - name: a\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BAT + "    type: mqtt_json\n", "batteries[0].topic: type mqtt_json needs 'topic:'"),
        (BAT + "    type: batmux_remote\n", "batteries[0].topic: type batmux_remote needs"),
        (BAT + "    type: vedirect\n    address: /dev/ttyUSB0\n", "[0].port: type vedirect needs"),
        (BAT + "    type: jbd\n    sim: {capacity_ah: .inf}\n", "sim.capacity_ah: must be finite"),
        (BAT + "    type: jbd\n    sim: {soc: .nan}\n", "batteries[0].sim.soc: must be finite"),
        ("sample_period: -.inf\n", "sample_period: must be finite"),
        ('batteries:\n  - name: "a\\n"\n    type: jbd\n', "batteries[0].name: control character"),
        ('mqtt: {base_topic: "bat\\u0000mux"}\n', "mqtt.base_topic: control character"),
        ("sample_period: 1\nsample_period: 2\n", "line 2: duplicate key 'sample_period'"),
        (BAT + "    type: jbd\n    type: jk\n", "line 4: duplicate key 'type'"),
        ("sample_period: " + "9" * 5000 + "\n", "line 1: number too large"),
        ("sample_period: " + "9" * 400 + "\n", "sample_period: number too large"),
        (b"sample_period: 1\n# caf\xe9\n", "line 2: not UTF-8 text"),
        (b"\xff\xfe\x00s\x00", "line 1: not UTF-8 text"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "line 1: nested more than 24 levels"),
        ("".join(f"{'  ' * i}k{i}:\n" for i in range(30)) + " " * 60 + "1\n", "nested too deeply"),
        ("mqtt: " + "{a: " * 30 + "1" + "}" * 30 + "\n", "line 1: nested more than 24"),
        ('mqtt: {url: "mqtt://u:hunter2@host:99999"}\n', "mqtt.url: not a valid URL"),
        (BAT + '    type: mqtt_json\n    topic: t\n    url: "ftp://u:hunter2@h"\n', "url: scheme"),
        ("a: &x [1, 2]\nb: !!binary aGVsbG8=\n", "b: unexpected YAML type bytes"),
        (BAT + "    type: byd_modbus\n    address: AA:BB:CC:DD:EE:FF\n", "'address: HOST:PORT'"),
    ],
)  # fmt: skip
def test_invalid_configs_exit_2_with_one_located_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes, expected: str
) -> None:
    code, err = check(tmp_path, text, capsys)
    assert code == 2, err
    assert err.startswith("batmux: FILE: ") and expected in err, err
    assert "Traceback" not in err and "hunter2" not in err  # a URL's password is never echoed


@pytest.mark.parametrize(
    "battery",
    [
        {"name": "a", "type": "vedirect"},  # address: sim by default
        {"name": "a", "type": "vedirect", "address": "sim:mppt"},
        {"name": "a", "type": "vedirect", "address": "/dev/ttyUSB0", "port": "/dev/ttyUSB0"},
        {"name": "a", "type": "mqtt_json", "topic": "nr/battery"},
    ],
)
def test_complete_entries_still_pass(battery: dict[str, str]) -> None:
    assert parse_config({"batteries": [battery]}).batteries[0].name == "a"


ADDRESSES = ({}, {"address": "AA:BB:CC:DD:EE:FF"}, {"address": "/dev/ttyUSB9"},
             {"address": "10.0.0.1:502"}, {"address": "sim:mppt"})  # fmt: skip


@pytest.mark.parametrize("battery_type", known_types())
async def test_what_check_config_accepts_the_gateway_builds(battery_type: str) -> None:
    """Every type × typical addresses: a config ``check-config`` accepts builds its gateway
    (sources, links, sinks) without an error; building does no I/O."""
    for extra in ADDRESSES:
        battery = {"name": "x", "type": battery_type, "topic": "t", "port": "/dev/ttyUSB9"}
        try:
            config = parse_config({"batteries": [{**battery, **extra}]})
        except ConfigError:
            continue
        wire(Gateway(config))


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """``<<: *anchor`` then an own key of the same name is YAML's override, not a duplicate."""
    path = tmp_path / "merge.yaml"
    path.write_text("batteries:\n  - &a {name: a, type: jbd, timeout: 5}\n  - {<<: *a, name: b}\n")
    config = load_config(path)
    assert [(b.name, b.timeout) for b in config.batteries] == [("a", 5.0), ("b", 5.0)]


def ladder(n: int) -> dict[str, object]:
    """g1 = [a, b], g2 = [g1, b], g_k = [g_{k-1}, g_{k-2}]: every group shares the one below
    it twice over, so a walk that does not remember visited groups takes ~1.6^n steps."""
    groups = [{"name": "g1", "members": ["a", "b"]}, {"name": "g2", "members": ["g1", "b"]}]
    groups += [{"name": f"g{k}", "members": [f"g{k - 1}", f"g{k - 2}"]} for k in range(3, n + 1)]
    batteries = [{"name": "a", "type": "jbd"}, {"name": "b", "type": "jbd"}]
    return {"batteries": batteries, "groups": groups}


def test_80_nested_groups_check_and_build_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ladder(80)
    data["groups"][-1]["charge_switch"] = {"stop_soc": 90}  # type: ignore[index]  # walks leaves
    start = time.perf_counter()
    code, err = check(tmp_path, yaml.safe_dump(data), capsys)
    assert code == 0, err
    engine = BankEngine(parse_config(data))
    states = {
        name: BatteryState(name, True, BatterySample(0.0, voltage_v=13.2, current_a=1.0))
        for name in ("a", "b")
    }
    out = engine.update(states, now=0.0)
    assert [s.name for s in out][-1] == "g80"
    assert time.perf_counter() - start < 5.0  # was exponential: never finished


def test_group_cycle_still_found_in_a_long_chain() -> None:
    data = ladder(300)
    data["groups"][0]["members"] = ["a", "g300"]  # type: ignore[index]
    with pytest.raises(Exception, match="group cycle: g1 → g300 → g299"):
        parse_config(data)


# -- JSON publishers: never NaN/Infinity ---------------------------------------------------------
def test_published_json_is_strict_even_with_non_finite_values() -> None:
    assert dumps({"a": math.inf, "b": [math.nan, 1.5], "c": {"d": -math.inf}}) == (
        '{"a": null, "b": [null, 1.5], "c": {"d": null}}'
    )
    sample = BatterySample(0.0, voltage_v=52.0, current_a=math.inf, soc_pct=50.0)
    state = BatteryState("x", True, sample)
    [(_, payload, _)] = build_messages({"x": state}, [MqttJsonOutputConfig(battery="x", topic="t")])
    decoded = json.loads(payload, parse_constant=lambda c: pytest.fail(f"{c} in published JSON"))
    assert decoded["Dc"]["Current"] is None and decoded["Dc"]["Voltage"] == 52.0


# -- fuzz: mutated configs -----------------------------------------------------------------------
BASE = """\
mqtt:
  url: "mqtts://user:secret@broker.lan:8883"
  tls: {ca_file: /etc/ssl/ca.pem}
sample_period: 1
publish_period: 5
batteries:
  - name: garage
    type: jk
    sim: {cells: 16, capacity_ah: 280, soc: 60, current: -20}
    limits: {max_charge_current: 100}
  - name: shunt
    type: vedirect
    address: sim
  - name: nodered
    type: mqtt_json
    topic: nr/battery
groups:
  - name: bank
    members: [garage, nodered]
mqtt_json_output:
  - {battery: bank, topic: out/bank}
"""
LINES = BASE.splitlines(keepends=True)
TOKENS = st.sampled_from(
    [
        ".inf",
        "-.inf",
        ".nan",
        "9" * 5000,
        "9" * 30,
        "1e999",
        "'a\\n'",
        '"\\u0000"',
        "~",
        "[",
        "]",
        "{",
        "}",
        ":",
        "- ",
        "&x ",
        "*x",
        "<<: ",
        "!!binary aGk=",
        "!!python/object:os.system",
        "\t",
        "\n",
        "\n  - ",
        "  ",
        "'",
        '"',
        "#",
        "sim",
        "mqtt_json",
        "vedirect",
        "topic: ",
        "port: ",
        "url: ",
        "ftp://x",
        "[" * 200,
        "{a: " * 40,
        "0x" + "f" * 40,
        "-1",
        "0",
        "true",
        "é",
        "\udcff",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["insert", "replace", "delete", "duplicate", "raw"]))
        line = lines[i]
        pos = draw(st.integers(0, len(line)))
        token = draw(TOKENS)
        if kind == "insert":
            lines[i] = line[:pos] + token + line[pos:]
        elif kind == "replace":
            head = line.split(":", 1)[0] + ": " if ":" in line else line[:pos]
            lines[i] = head + token + "\n"
        elif kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        else:
            lines[i] = line[:pos] + draw(st.text(max_size=6)) + line[pos:]
    data = "".join(lines).encode("utf-8", "surrogateescape")
    if draw(st.booleans()) and draw(st.booleans()):
        data = data.replace(b"\xc3\xa9", b"\xe9")  # latin-1 bytes: not UTF-8
    return data


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated())
def test_fuzz_mutated_configs_exit_0_or_2_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: bytes
) -> None:
    start = time.perf_counter()
    code, err = check(tmp_path, text, capsys)  # an exception here fails the test
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("batmux: FILE: ") and "Traceback" not in err
        assert "unreadable config" not in err, err  # the safety net must not be needed
    assert "secret" not in err
    assert time.perf_counter() - start < 2.0


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["sim", "jk", "mqtt_json", "vedirect", "bank", "garage", "mqtt://h"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _leaves(node: object, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [path] + [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [path] + [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_fuzz_values_anywhere_give_a_config_or_a_config_error(data: st.DataObject) -> None:
    """Any value at any place of a valid config: a Config or a ConfigError, nothing else."""
    config = yaml.safe_load(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _leaves(config)
        path = data.draw(st.sampled_from(paths[1:]))
        parent = config
        for part in path[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(VALUES)
        else:
            parent[path[-1]] = data.draw(VALUES)
    try:
        parse_config(config, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml: ") and "secret" not in str(exc)


SIM_TYPES = [
    *("jk", "jk02_32s", "jbd", "daly", "daly_modbus", "ant", "supervolt", "sok"),
    *("victron_smartshunt", "vedirect", "pylontech_can", "byd_can", "byd_modbus"),
]


async def test_simulated_packs_at_the_config_bounds_do_not_end_the_run(tmp_path: Path) -> None:
    """``sim.capacity_ah: .inf`` (or 1e308) overflowed a simulator's encoder and ended the whole
    gateway; the bounds check-config now enforces keep every family's frames valid."""
    from mqtt_helpers import running

    extremes = [(650, 300.0, 99), (650, -300.0, 1), (0.1, 300.0, 50)]
    batteries = [
        {"name": f"{t}_{i}", "type": t, "sim": {"capacity_ah": c, "current": a, "soc": soc}}
        for t in SIM_TYPES
        for i, (c, a, soc) in enumerate(extremes)
    ]
    periods = {"sample_period": 0.2, "publish_period": 0.4}
    config = parse_config({**periods, "state_dir": str(tmp_path), "batteries": batteries})
    gateway = Gateway(config)
    wire(gateway)
    async with running(gateway):  # a crashed gateway re-raises here
        await asyncio.sleep(2.5)
    polled = [b for b in gateway.batteries.values() if b.cfg.type != "byd_modbus"]
    # 300 A from a 0.1 Ah pack is refused by the plausibility check, counted with its reason
    feasible = [b for b in polled if not b.cfg.name.endswith("_2")]
    assert all(b.health.samples > 0 for b in feasible)
    for b in polled:
        if b.cfg.name.endswith("_2"):
            assert b.health.samples > 0 or "more than a 0.1 Ah pack" in str(b.health.last_error)


@pytest.mark.parametrize(("kind", "cells"), [("jk02_24s", 25), ("jbd", 33), ("tesla_model3", 109)])
def test_sim_cells_above_what_the_family_carries_are_a_config_error(kind: str, cells: int) -> None:
    """128 cells passed the old check and then crashed a BLE simulator's frame encoder."""
    battery = {"name": "x", "type": kind, "address": "sim", "sim": {"cells": cells}}
    with pytest.raises(ConfigError, match=r"batteries\[0\]\.sim\.cells: type .* carries at most"):
        parse_config({"batteries": [battery]})
