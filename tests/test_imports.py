"""Import only what the config uses (issue 17: RSS on a Pi Zero / Cerbo GX).

A fresh interpreter loads a config, builds and wires the gateway, runs it for a few seconds
(sampling, the bank engine, MQTT publishing with discovery to a real broker), then reports
``sys.modules``. The rule it checks:

- the third-party stacks of features the config does not use stay out: pymodbus (Modbus
  batteries, the BYD Modbus emulator), python-can (CAN batteries and inverters), dbus-fast
  (Venus OS; also bleak's BlueZ backend, so only for ``address: sim``), cryptography (Victron
  Instant Readout), pyserial (wired BMS, VE.Direct, Modbus RTU), aioesphomeapi with its Noise
  and zeroconf stacks (only with ESPHome Bluetooth proxies);
- of batmux's own per-family modules (the registry's codec, driver, simulator and source
  ``module:Class`` strings), only the configured family's load;
- simulator modules load only for ``address: sim``;
- the output modules of outputs the config does not enable (Venus, inverters) stay out;
- the config is loaded as ``batmux run`` loads it (validated in a short-lived child process,
  rebuilt from slim models): pydantic, pydantic_core and PyYAML are never imported.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from batmux.devices.registry import DEVICE_TYPES
from batmux.devices.serial_bms import WIRED_FAMILIES
from batmux.protocols.daly import HOST_ALT, HOST_BLE
from conftest import Broker

CHILD = """
import asyncio, json, sys
from batmux.cli import _load_for_run, build_gateway

config = _load_for_run(sys.argv[1])
gateway = build_gateway(config)
seconds = float(sys.argv[2])

async def main():
    task = asyncio.create_task(gateway.run())
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        await task
    except BaseException:
        pass

if seconds > 0:
    asyncio.run(main())
samples = sum(r.health.samples for r in gateway.batteries.values()) if seconds > 0 else None
print(json.dumps({"modules": sorted(sys.modules), "samples": samples}))
"""

HEAVY = (
    "pydantic",  # the config was validated in a child process (batmux.config_child)
    "pydantic_core",
    "yaml",
    "pymodbus",
    "can",
    "dbus_fast",
    "cryptography",
    "serial",
    "serial_asyncio",
    "aioesphomeapi",
    "noise",
    "zeroconf",
)

# Outputs and links a BLE + MQTT config has no use for.
UNUSED_OUTPUTS = (
    "batmux.sinks.venus",
    "batmux.links.venus_dbus",
    "batmux.links.venus_settings",
    "batmux.sinks.byd_modbus",
    "batmux.sinks.byd_can",
    "batmux.sinks.pylontech_can",
    "batmux.sinks.can_inverter",
    "batmux.links.can_bus",
    "batmux.links.modbus",
    "batmux.links.serial_link",
    "batmux.links.relays",  # EV packs' external relays
    "batmux.netzero.runtime",  # zero export
    "batmux.web.server",  # the web API and dashboard
    "aiohttp",  # the web stack (web:, netzero's HTTP devices)
)


def _modules_of(type_name: str) -> set[str]:
    t = DEVICE_TYPES[type_name]
    return {s.split(":")[0] for s in (t.codec, t.driver, t.sim, t.source) if s}


async def _child_modules(tmp_path: Path, config: str, seconds: float) -> tuple[set[str], int]:
    path = tmp_path / "batmux.yaml"
    path.write_text(config)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    report = json.loads(out.decode().strip().splitlines()[-1])
    return set(report["modules"]), report["samples"]


def _family_violations(modules: set[str], used: str) -> set[str]:
    allowed = _modules_of(used)
    foreign = set().union(*(_modules_of(name) for name in DEVICE_TYPES)) - allowed
    return foreign & modules


async def test_ble_sim_config_imports_only_its_family(tmp_path: Path, broker: Broker) -> None:
    config = f"""
state_dir: {tmp_path / "state"}
sample_period: 0.5
publish_period: 0.5
batteries:
  - name: house
    type: jbd
    address: sim
mqtt:
  url: {broker.url}
"""
    modules, samples = await _child_modules(tmp_path, config, seconds=3.0)
    assert samples and samples >= 2  # the run really sampled (and published) in the child
    assert "batmux.sinks.mqtt" in modules and "batmux.sim.jbd" in modules
    assert [m for m in HEAVY if m in modules] == []
    assert _family_violations(modules, "jbd") == set()
    assert [m for m in UNUSED_OUTPUTS if m in modules] == []


async def test_real_ble_address_loads_no_simulator(tmp_path: Path) -> None:
    # Built, not started (there is no adapter here): bleak (and through it dbus-fast) is this
    # config's BLE stack; the simulators, pyserial and the other families are not.
    config = f"""
state_dir: {tmp_path / "state"}
batteries:
  - name: house
    type: jk
    address: "C8:47:80:00:00:01"
"""
    modules, _ = await _child_modules(tmp_path, config, seconds=0)
    assert "batmux.links.bleak_link" in modules
    # already there, so sharing one malloc arena costs no import (runtime/malloc_arena.py)
    assert "ctypes" in modules
    assert sorted(m for m in modules if m.startswith("batmux.sim")) == []
    assert [m for m in HEAVY if m in modules and m != "dbus_fast"] == []
    assert _family_violations(modules, "jk") == set()
    assert [m for m in UNUSED_OUTPUTS if m in modules] == []


def test_wired_daly_host_bytes_match_the_codec() -> None:
    # devices/serial_bms.py spells the host bytes out so a config without Daly never loads
    # the Daly codec; they must stay the codec's values (RS485 first, then the BLE host).
    assert WIRED_FAMILIES["daly"].driver_kwargs["hosts"] == (HOST_ALT, HOST_BLE)


async def test_config_without_mqtt_loads_no_mqtt_client(tmp_path: Path) -> None:
    config = f"""
state_dir: {tmp_path / "state"}
batteries:
  - name: house
    type: jbd
    address: sim
"""
    modules, _ = await _child_modules(tmp_path, config, seconds=0)
    assert [m for m in ("aiomqtt", "paho", "batmux.sinks.mqtt") if m in modules] == []
