"""The add-on's options + the Supervisor's MQTT service → a batmux config, and run.sh end to end.

The Supervisor is a loopback HTTP server answering /services/mqtt (supervisor_fake.py); the
broker in the end-to-end test is a real mosquitto that requires the credentials it hands out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from batmux import addon
from batmux.config import load_config
from batmux.errors import ConfigError
from broker_process import free_port, mosquitto_binary, wait_port
from conftest import REPO
from install.supervisor_fake import TOKEN, fake_supervisor

ADDON = REPO / "ha-addon" / "batmux"
SERVICE = {
    "host": "core-mosquitto",
    "port": 1883,
    "ssl": False,
    "protocol": "3.1.1",
    "username": "addons",
    "password": "p@ss:w/rd",
    "addon": "core_mosquitto",
}
JK = {"name": "garage", "type": "jk", "address": "C8:47:8C:00:00:01"}


def defaults() -> dict[str, Any]:
    """The options a fresh install has: config.yaml's `options:`."""
    return dict(yaml.safe_load((ADDON / "config.yaml").read_text())["options"])


def prepared(tmp_path: Path, options: dict[str, Any], service: Any = SERVICE) -> dict[str, Any]:
    (tmp_path / "options.json").write_text(json.dumps(options))
    out = tmp_path / "batmux.yaml"
    addon.prepare(tmp_path / "options.json", out, service, tmp_path / "custom.yaml")
    load_config(out)  # what check-config does
    return yaml.safe_load(out.read_text())


def test_defaults_give_a_valid_idle_gateway_on_the_supervisors_broker(tmp_path: Path) -> None:
    config = prepared(tmp_path, defaults())
    assert config["mqtt"] == {
        "url": "mqtt://addons:p%40ss%3Aw%2Frd@core-mosquitto:1883",
        "base_topic": "batmux",
        "discovery_prefix": "homeassistant",
    }
    assert config["state_dir"] == str(tmp_path / "state")  # /data/state: kept, backed up
    assert config["batteries"] == [] and config["groups"] == []
    assert (config["sample_period"], config["publish_period"], config["expire_after"]) == (1, 5, 60)
    # the broker password is in the file: only the add-on may read it
    assert stat.S_IMODE((tmp_path / "batmux.yaml").stat().st_mode) == 0o600


def test_every_battery_option(tmp_path: Path) -> None:
    shunt = {
        "name": "shunt",
        "type": "victron_smartshunt",
        "address": "F0:00:00:00:00:02",
        "advertisement_key": "00112233445566778899aabbccddeeff",
    }
    full = {
        **JK,
        "adapter": "hci1",
        "pin": "123456",
        "current_calibration": 1.02,
        "invert_current": True,
    }
    config = prepared(tmp_path, {**defaults(), "batteries": [full, shunt]})
    assert config["batteries"] == [full, shunt]
    parsed = load_config(tmp_path / "batmux.yaml").batteries[0]
    assert (parsed.adapter, parsed.pin, parsed.current_calibration) == ("hci1", "123456", 1.02)
    assert parsed.invert_current is True


def test_empty_optional_fields_mean_not_set(tmp_path: Path) -> None:
    config = prepared(tmp_path, {**defaults(), "batteries": [{**JK, "adapter": "", "pin": ""}]})
    assert config["batteries"] == [JK]


def test_banks(tmp_path: Path) -> None:
    b = {**JK, "name": "b"}
    options = {
        **defaults(),
        "batteries": [JK, b],
        "banks": [{"name": "house", "members": ["garage", "b"], "mode": "parallel"}],
    }
    config = prepared(tmp_path, options)
    assert config["groups"] == [{"name": "house", "members": ["garage", "b"], "mode": "parallel"}]
    del options["banks"][0]["mode"]
    assert prepared(tmp_path, options)["groups"] == [{"name": "house", "members": ["garage", "b"]}]


def test_periods_topics_and_log_level(tmp_path: Path) -> None:
    options = {
        **defaults(),
        "sample_period": 2,
        "publish_period": 10,
        "expire_after": 120,
        "base_topic": "garage",
        "discovery_prefix": "ha",
        "log_level": "debug",
    }
    (tmp_path / "options.json").write_text(json.dumps(options))
    flags = addon.prepare(tmp_path / "options.json", tmp_path / "batmux.yaml", SERVICE)
    config = load_config(tmp_path / "batmux.yaml")
    assert (config.sample_period, config.publish_period, config.expire_after) == (2, 10, 120)
    assert config.mqtt is not None
    assert (config.mqtt.base_topic, config.mqtt.discovery_prefix) == ("garage", "ha")
    assert flags == ["-vv"]
    for level, want in (("warning", []), ("info", ["-v"])):
        (tmp_path / "options.json").write_text(json.dumps({**options, "log_level": level}))
        assert addon.prepare(tmp_path / "options.json", tmp_path / "x.yaml", SERVICE) == want


def test_the_dashboard_is_served_to_ingress_with_a_kept_token(tmp_path: Path) -> None:
    config = prepared(tmp_path, defaults())
    token = (tmp_path / "web_token").read_text().strip()
    assert config["web"] == {
        "listen": "0.0.0.0:8099",
        "token": token,
        "trusted_clients": ["172.30.32.2"],
    }
    assert len(token) >= 16 and stat.S_IMODE((tmp_path / "web_token").stat().st_mode) == 0o600
    assert prepared(tmp_path, defaults())["web"]["token"] == token  # the same at every start
    manifest = yaml.safe_load((ADDON / "config.yaml").read_text())
    assert manifest["ingress"] is True and manifest["ingress_port"] == addon.INGRESS_PORT
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump({"batteries": [JK]}))
    custom = prepared(tmp_path, {**defaults(), "custom_config": True})
    assert custom["web"]["trusted_clients"] == ["172.30.32.2"]  # filled in when missing
    own = {"batteries": [JK], "web": {"listen": "127.0.0.1:9000"}}
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump(own))
    assert prepared(tmp_path, {**defaults(), "custom_config": True})["web"] == own["web"]


def test_gateway_option_names_this_gateway_in_a_fleet(tmp_path: Path) -> None:
    config = prepared(tmp_path, {**defaults(), "gateway": "shed"})
    assert config["mqtt"]["gateway"] == "shed" and "base_topic" not in config["mqtt"]
    parsed = load_config(tmp_path / "batmux.yaml")
    assert parsed.mqtt is not None and parsed.mqtt.base_topic == "batmux/shed"  # docs/fleet.md
    with pytest.raises(ConfigError, match=r"add-on options: mqtt\.gateway"):
        prepared(tmp_path, {**defaults(), "gateway": "no spaces"})
    own_base = prepared(tmp_path, {**defaults(), "gateway": "shed", "base_topic": "site"})
    assert own_base["mqtt"]["base_topic"] == "site"  # a base the user chose is kept


def test_mqtt_url_option_overrides_the_supervisor(tmp_path: Path) -> None:
    config = prepared(tmp_path, {**defaults(), "mqtt_url": "mqtts://u:p@broker.lan:8883"})
    assert config["mqtt"]["url"] == "mqtts://u:p@broker.lan:8883"


def test_tls_broker_and_anonymous_broker() -> None:
    assert addon.mqtt_url({**SERVICE, "ssl": True, "port": 8883}).startswith("mqtts://")
    assert addon.mqtt_url({"host": "h", "port": 1883}) == "mqtt://h:1883"


def test_no_broker_means_no_mqtt_section(tmp_path: Path) -> None:
    assert "mqtt" not in prepared(tmp_path, defaults(), service=None)


def test_custom_config_file(tmp_path: Path) -> None:
    custom = {"publish_period": 3, "batteries": [JK]}
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump(custom))
    config = prepared(tmp_path, {**defaults(), "custom_config": True, "sample_period": 9})
    assert config["publish_period"] == 3 and "sample_period" not in config  # options ignored
    assert config["mqtt"]["url"].startswith("mqtt://addons:")  # broker filled in
    assert config["state_dir"] == str(tmp_path / "state")
    own = {**custom, "mqtt": {"url": "mqtt://mine:1883"}, "state_dir": "/data/other"}
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump(own))
    config = prepared(tmp_path, {**defaults(), "custom_config": True})
    assert config["mqtt"] == {"url": "mqtt://mine:1883"} and config["state_dir"] == "/data/other"


def test_custom_config_missing_or_invalid_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="custom_config is on but the file is missing"):
        prepared(tmp_path, {**defaults(), "custom_config": True})
    (tmp_path / "custom.yaml").write_text("batteries: [{name: a, type: jk, keepalive: 1}]\n")
    with pytest.raises(ConfigError, match=r"custom\.yaml: batteries\[0\]\.keepalive: unknown"):
        prepared(tmp_path, {**defaults(), "custom_config": True})
    # read as strictly as `batmux run` reads it: a key given twice is not silently the last one
    (tmp_path / "custom.yaml").write_text("publish_period: 3\npublish_period: 5\n")
    with pytest.raises(ConfigError, match=r"custom\.yaml: line 2: duplicate key 'publish_period'"):
        prepared(tmp_path, {**defaults(), "custom_config": True})


def test_a_bad_option_names_the_option(tmp_path: Path) -> None:
    options = {**defaults(), "batteries": [JK], "banks": [{"name": "x", "members": ["nope"]}]}
    with pytest.raises(ConfigError) as err:
        prepared(tmp_path, options)
    assert str(err.value).startswith("add-on options: groups")
    (tmp_path / "options.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"options\.json: not valid"):
        addon.prepare(tmp_path / "options.json", tmp_path / "o.yaml", SERVICE)


def test_services_api_reads_credentials_and_handles_no_broker() -> None:
    with fake_supervisor(SERVICE) as url:
        assert addon.supervisor_mqtt(url, TOKEN) == SERVICE
        with pytest.raises(addon.SupervisorError, match="HTTP 401"):
            addon.supervisor_mqtt(url, "wrong")
    with fake_supervisor(None) as url:
        assert addon.supervisor_mqtt(url, TOKEN) is None
    with pytest.raises(addon.SupervisorError, match="unreachable"):
        addon.supervisor_mqtt(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2)


def _run_sh(data: Path, supervisor: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "BATMUX_DATA": str(data),
        "BATMUX_PYTHON": sys.executable,
        "BATMUX_SUPERVISOR_URL": supervisor,
        "SUPERVISOR_TOKEN": TOKEN,
    }
    return subprocess.Popen(
        ["sh", str(ADDON / "run.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_run_sh_shows_option_errors_and_exits_2(tmp_path: Path) -> None:
    bad = {**defaults(), "batteries": [{**JK, "name": "bad name"}]}
    (tmp_path / "options.json").write_text(json.dumps(bad))
    with fake_supervisor(SERVICE) as url:
        proc = _run_sh(tmp_path, url)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "batmux: add-on options: batteries[0].name: use letters" in out


@pytest.mark.skipif(
    mosquitto_binary() is None or shutil.which("mosquitto_passwd") is None,
    reason="needs mosquitto and mosquitto_passwd",
)
def test_run_sh_starts_batmux_on_the_supervisors_authenticated_broker(tmp_path: Path) -> None:
    port = free_port()
    passwd = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwd), SERVICE["username"], SERVICE["password"]],
        check=True,
        capture_output=True,
    )
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
        "persistence false\n" + ("user root\n" if os.geteuid() == 0 else "")
        # as root, mosquitto drops to its own user, which cannot read pytest's 0700 tmp dirs
    )
    broker = subprocess.Popen(
        [str(mosquitto_binary()), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = tmp_path / "data"
    data.mkdir()
    (data / "options.json").write_text(json.dumps(defaults()))
    try:
        wait_port(port)
        service = {**SERVICE, "host": "127.0.0.1", "port": port}
        with fake_supervisor(service) as url:
            proc = _run_sh(data, url)
            out = ""
            deadline = time.monotonic() + 60
            assert proc.stdout is not None
            while time.monotonic() < deadline and "MQTT: connected" not in out:
                line = proc.stdout.readline()
                if not line:
                    break
                out += line
            proc.send_signal(signal.SIGTERM)  # the Supervisor stops add-ons with SIGTERM
            rest, _ = proc.communicate(timeout=30)
    finally:
        broker.terminate()
        broker.wait(10)
    assert f"MQTT: connected to mqtt://addons:***@127.0.0.1:{port}" in out, out + rest
    assert proc.returncode == 0, out + rest
    assert (data / "batmux.yaml").exists() and (data / "state").is_dir()
