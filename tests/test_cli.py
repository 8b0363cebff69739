"""The ``batmux`` command line: check-config, decode, run (bad config, watchdog, SIGTERM),
demo with its embedded broker, and replay of a candump log into a CAN battery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from batmux.cli import main
from batmux.devices.ble_source import BleSource
from batmux.devices.capture import CaptureRing, write_capture
from batmux.devices.registry import get_type, load
from batmux.protocols.jbd import checksum as jbd_checksum
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimPeripheral
from conftest import VECTORS
from helpers import assert_matches

BATMUX = [sys.executable, "-m", "batmux.cli"]


def vector(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / "ble" / f"{name}.json").read_text())


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def batmux(*args: str, cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BATMUX, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"want one line, got: {text!r}"
    assert "Traceback" not in text
    return lines[0]


# -- check-config --------------------------------------------------------------------------------

GOOD = """\
mqtt: {url: "mqtt://user:secret@127.0.0.1:1883"}
sample_period: 2
batteries:
  - name: garage
    type: jk
    sim: {cells: 8}
  - name: rv
    type: jk02_32s
    address: "C8:47:80:12:34:56"
"""


def test_check_config_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "good.yaml", GOOD)
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: OK (2 batteries: garage, rv)"


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (
            "batteries:\n  - name: a\n    type: jk\n    sim: {cels: 4}\n",
            "batteries[0].sim.cels",
            "unknown key",
        ),
        ("mqtt:\n  url: mqtt://h\n  bse_topic: x\n", "mqtt.bse_topic", "unknown key"),
        ("sample_period: -1\n", "sample_period", "greater than 0"),
        ("mqtt: {url: 'http://broker'}\n", "mqtt.url", "scheme must be mqtt:// or mqtts://"),
        (
            "batteries:\n  - {name: a, type: jk}\n  - {name: a, type: jk}\n",
            "batteries[1].name",
            "'a' is used twice",
        ),
        (
            "batteries:\n  - {name: a, type: jk}\ninverters:\n"
            "  - {name: inv, type: byd_modbus, battery: b, port: /dev/x}\n",
            "inverters[0].battery",
            "battery 'b' is not a configured battery or group (known: a)",
        ),
        (
            "batteries:\n  - {name: a, type: jk}\ngroups:\n  - {name: g, members: [a, c]}\n",
            "groups[0].members[1]",
            "unknown battery or group 'c'",
        ),
        (
            "batteries:\n  - name: a\n    type: jk\n    address: 'AA:BB:CC:DD:EE:FF'\n"
            "    sim: {cells: 4}\n",
            "batteries[0]",
            "'sim:' parameters need 'address: sim'",
        ),
    ],
)
def test_check_config_errors_name_file_field_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str, reason: str
) -> None:
    path = write(tmp_path / "bad.yaml", text)
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith(f"batmux: {path}: {field}: "), line
    assert reason in line
    assert captured.out == ""


def test_check_config_yaml_syntax_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "syntax.yaml", "batteries:\n  - name: a\n   type: [jk\n")
    assert main(["check-config", str(path)]) == 2
    assert one_line(capsys.readouterr().err).startswith(f"batmux: {path}: line 3: ")


def test_check_config_unknown_type_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "t.yaml", "batteries:\n  - name: a\n    type: jk03\n")
    assert main(["check-config", str(path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"batmux: {path}: batteries[0].type: unknown type 'jk03'; known: ")
    known = line.split("known: ", 1)[1].split(", ")
    assert {"jk", "jk02_24s", "jk02_32s", "jbd", "pylontech_can"} <= set(known)


def test_check_config_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in one_line(capsys.readouterr().err)


def test_check_config_subprocess_exit_code_and_no_traceback(tmp_path: Path) -> None:
    write(tmp_path / "bad.yaml", "batteries:\n  - name: a\n    type: jk\n    keep_alive: maybe\n")
    result = batmux("check-config", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("batmux: bad.yaml: batteries[0].keep_alive: ")
    assert result.stdout == ""


# -- decode --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["jk02_24s_6", "jk02_32s_1"])
def test_decode_prints_the_vector_values(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    vec = vector(name)
    assert main(["decode", vec["protocol"], *vec["frames"]]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON line without --pretty
    assert_matches(json.loads(out), vec["expected"], name)


def test_decode_accepts_spaces_in_hex(capsys: pytest.CaptureFixture[str]) -> None:
    vec = vector("jk02_24s_6")
    spaced = [" ".join(f[i : i + 2] for i in range(0, len(f), 2)) for f in vec["frames"]]
    assert main(["decode", "jk02_24s", *spaced]) == 0
    assert json.loads(capsys.readouterr().out)["voltage"] == vec["expected"]["voltage"]


@pytest.mark.parametrize("key_first", [True, False])
def test_decode_victron_key_before_or_after_the_payload(
    key_first: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue #3 writes it as `batmux decode victron_smartshunt --key KEYHEX PAYLOADHEX`
    vec = vector("victron_smartshunt_1")
    key = ["--key", vec["advertisement_key"]]
    payload = vec["frames"]
    args = [*key, *payload] if key_first else [*payload, *key]
    assert main(["decode", "victron_smartshunt", *args]) == 0
    assert_matches(json.loads(capsys.readouterr().out), vec["expected"], "victron_smartshunt_1")


def test_decode_still_rejects_unknown_options() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["decode", "jk02_24s", "--bogus", "00"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["jk02_24s", "55aaeb9002ff"], "decode jk02_24s: "),  # truncated
        (["jk02_24s", "zz"], "not a hex frame"),
        (["jk07", "00"], "unknown protocol 'jk07'; known: "),
        (["jk02_24s"], "give FRAMEs or --capture FILE"),
    ],
)
def test_decode_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    assert main(["decode", *args]) == 2
    captured = capsys.readouterr()
    assert reason in one_line(captured.err)
    assert captured.out == ""


def test_decode_mis_checksummed_frame_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    frame = vector("jk02_24s_1")["frames"][0]
    bad = frame[:-2] + f"{(int(frame[-2:], 16) + 1) % 256:02x}"
    assert main(["decode", "jk02_24s", bad]) == 2
    assert one_line(capsys.readouterr().err).startswith("batmux: decode jk02_24s: ")


@pytest.mark.parametrize(
    ("name", "forced", "reason"),
    [
        # issue #10: a real 32-cell-layout frame forced through the 24-cell layout read 0 V;
        # the JK codec's own layout check names the cause before the plausibility check runs
        ("jk02_32s_5", "jk02_24s", "looks like the 32-cell layout: use `type: jk`"),
        ("jk02_24s_1", "jk02_32s", "looks like the 24-cell layout: use `type: jk`"),
    ],
)
def test_decode_wrong_layout_exits_2_with_one_line_reason(
    capsys: pytest.CaptureFixture[str], name: str, forced: str, reason: str
) -> None:
    assert main(["decode", forced, *vector(name)["frames"]]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith(f"batmux: decode {forced}: ") and reason in line
    assert captured.out == ""


def test_decode_checksum_valid_frame_with_charge_above_capacity_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the real JBD capture of jbd_1 (5 Ah pack, 4.98 Ah left) with 100 Ah written into its
    # remaining-charge field and the checksum fixed: every byte checks, the values cannot be
    frame = bytearray.fromhex(vector("jbd_1")["frames"][0])
    frame[8:10] = (10000).to_bytes(2, "big")
    frame[-3:-1] = jbd_checksum(bytes(frame[2:-3])).to_bytes(2, "big")
    assert main(["decode", "jbd", frame.hex()]) == 2
    assert one_line(capsys.readouterr().err) == (
        "batmux: decode jbd: implausible sample: remaining charge 100 Ah is above the full "
        "capacity 5 Ah: a corrupt value or the wrong layout"
    )


def test_decode_reads_a_capture_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vec = vector("jk02_24s_6")
    ring = CaptureRing(clock=iter(range(1_700_000_000, 1_700_000_100)).__next__)
    ring.record("tx", bytes.fromhex(vec["request"]))  # our request: must be skipped
    for notification in vec["frames"]:
        ring.record("rx", bytes.fromhex(notification))
    path = write_capture(tmp_path, "garage pack", ring, protocol="jk02_24s")
    assert path.name.startswith("garage_pack-")
    assert main(["decode", "jk02_24s", "--capture", str(path)]) == 0
    assert_matches(json.loads(capsys.readouterr().out), vec["expected"], "capture")


async def test_decode_reads_a_victron_gatt_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `run --capture` of a connected SmartShunt holds GATT reads, not advertisements
    t = get_type("victron_smartshunt")
    bat = SimBattery(cells=4, capacity_ah=200.0, soc_pct=71.0, current_a=-8.765, clock=lambda: 1.0)
    driver = load(t.driver)(SimPeripheral(load(t.sim)(bat), latency_s=0.001, chunk_gap_s=0))
    ring = CaptureRing()
    ring.attach(driver)
    await BleSource("shunt", driver, timeout_s=1.0).sample()
    path = write_capture(tmp_path, "shunt", ring, protocol="victron_smartshunt")
    assert main(["decode", "victron_smartshunt", "--capture", str(path)]) == 0
    got, truth = json.loads(capsys.readouterr().out), bat.truth()
    assert got["voltage"] == pytest.approx(truth.voltage_v, abs=0.01)
    assert got["current"] == pytest.approx(-8.765, abs=1e-3)
    assert got["soc"] == pytest.approx(71.0, abs=0.01)


def test_decode_broken_capture_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "x.jsonl", '{"capture": 1}\n{"direction": "rx"}\n')
    assert main(["decode", "jk02_24s", "--capture", str(path)]) == 2
    assert "cannot read capture" in one_line(capsys.readouterr().err)


# -- run -----------------------------------------------------------------------------------------


def test_run_with_a_bad_config_exits_2_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    path = write(
        tmp_path / "bad.yaml",
        f"state_dir: {state}\nbatteries:\n  - name: a\n    type: jk\n    sim: {{cels: 4}}\n",
    )
    started = time.monotonic()
    assert main(["run", "-c", str(path)]) == 2
    assert time.monotonic() - started < 2
    assert "batteries[0].sim.cels: unknown key" in one_line(capsys.readouterr().err)
    assert not state.exists()  # no meters, no bank state: nothing ran


def test_run_watchdog_exits_3_when_every_device_is_dead(tmp_path: Path) -> None:
    config = {
        "sample_period": 0.1,
        "publish_period": 0.5,
        "state_dir": str(tmp_path / "state"),
        "watchdog": True,
        "watchdog_rounds": 3,
        "batteries": [
            {"name": "gone", "type": "jk", "timeout": 0.3, "sim": {"cells": 4, "stop_after": 0.2}},
            {
                "name": "silent",
                "type": "pylontech_can",
                "address": "can0",
                "can": {"interface": "virtual", "channel": f"nobody-{os.getpid()}"},
            },
        ],
    }
    write(tmp_path / "dead.yaml", yaml.safe_dump(config))
    result = batmux("run", "-c", "dead.yaml", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "batmux: watchdog: every device failed 3 times in a row" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_sigterm_exits_0_and_saves_meters(tmp_path: Path) -> None:
    # publish_period is long: after the first publish (early, on the first sample) the only
    # meter save is the one on the way out.
    config = {
        "sample_period": 0.1,
        "publish_period": 60,
        "state_dir": str(tmp_path / "state"),
        "batteries": [
            {"name": "pack", "type": "jk", "debug": True, "sim": {"cells": 8, "current": 30.0}}
        ],
    }
    write(tmp_path / "c.yaml", yaml.safe_dump(config))
    log = tmp_path / "stderr.txt"
    with log.open("wb") as err:
        proc = subprocess.Popen([*BATMUX, "-v", "run", "-c", "c.yaml"], cwd=tmp_path, stderr=err)
    try:
        deadline = time.monotonic() + 15
        while log.read_text().count("pack: {") < 5:  # debug: one line per good sample
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        first = json.loads((tmp_path / "state" / "meters" / "pack.json").read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text()
    meters = json.loads((tmp_path / "state" / "meters" / "pack.json").read_text())
    assert meters["charged_wh"] > first["charged_wh"] and meters["discharged_wh"] == 0


# -- demo ----------------------------------------------------------------------------------------


async def test_demo_runs_with_an_embedded_broker_and_prints_a_table(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *BATMUX,
        "demo",
        "--duration",
        "6",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        match = re.search(r"embedded MQTT broker on mqtt://127\.0\.0\.1:(\d+)", first)
        assert match, first
        port = int(match.group(1))
        state: dict[str, Any] = {}
        async with asyncio.timeout(5):
            while not state:
                with contextlib.suppress(aiomqtt.MqttError):
                    async with aiomqtt.Client("127.0.0.1", port) as client:
                        await client.subscribe("batmux/+/state")
                        async for message in client.messages:
                            state = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                            break
                await asyncio.sleep(0.1)
        assert state["available"] is True and state["voltage"] > 0 and "soc" in state
        out, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    text = first + out.decode()
    assert "Traceback" not in err.decode()
    for column in ("battery", "voltage", "current", "SoC", "charged"):
        assert column in text
    for battery in ("jk_garage", "jbd_garage", "daly_rv"):
        assert re.search(rf"{battery}\s+│ online", text), text[-3000:]


# -- replay --------------------------------------------------------------------------------------


def test_replay_feeds_a_candump_log_to_a_pylontech_battery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vec = json.loads((VECTORS / "can" / "pylontech_lv_us5000_v1_2_capture.json").read_text())
    lines = [
        f"({1_700_000_000 + i * 0.01:.6f}) can0 {int(f['id'], 16):03X}#{f['data']}"
        for i, f in enumerate(vec["frames"])
    ]
    lines.insert(3, "this is not a candump line")
    log = write(tmp_path / "us5000.log", "\n".join(lines) + "\n")
    config = {
        "sample_period": 0.2,
        "publish_period": 0.5,
        "state_dir": str(tmp_path / "state"),
        "batteries": [
            {
                "name": "pylon",
                "type": "pylontech_can",
                "address": "can0",
                "can": {"interface": "virtual", "channel": f"replay-{os.getpid()}"},
            }
        ],
    }
    path = write(tmp_path / "c.yaml", yaml.safe_dump(config))
    assert main(["replay", str(log), "-c", str(path)]) == 0
    out = capsys.readouterr().out
    head, _, body = out.partition("\n")
    assert head == f"replayed 6 frames (1 lines skipped) on virtual:replay-{os.getpid()}"
    pylon = json.loads(body)["pylon"]
    want = vec["expected"]
    assert pylon["available"] is True
    assert pylon["voltage"] == want["0x356"]["voltage_V"]
    assert pylon["current"] == want["0x356"]["current_A"]
    assert pylon["temperatures"] == [want["0x356"]["temperature_C"]]
    assert pylon["soc"] == want["0x355"]["soc_pct"]
    assert pylon["soh"] == want["0x355"]["soh_pct"]
    assert pylon["module_count"] == want["0x359"]["module_count"]
    assert pylon["manufacturer"] == want["0x35E"]["manufacturer"]
    assert pylon["charge_enabled"] is True and pylon["discharge_enabled"] is True
