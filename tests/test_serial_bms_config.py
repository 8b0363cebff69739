"""Config of wired JBD/Daly batteries: what the address rule accepts, the ``serial:`` section,
and ``batmux check-config`` naming file, field and reason for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.cli import main
from batmux.config import parse_config
from batmux.devices.serial_bms import wired_driver_kwargs, wired_link
from batmux.links.serial_bms import is_serial_address, serial_port
from batmux.protocols import daly

GOOD = """\
batteries:
  - name: house
    type: jbd
    address: /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K1234-if00-port0
  - name: van
    type: daly
    address: /dev/ttyUSB1
    serial: {baudrate: 9600, parity: N, stopbits: 1, bytesize: 8}
  - name: shed
    type: jbd
    address: "serial:socket://192.168.1.50:8899"
    serial: {baudrate: 19200}
  - name: boat
    type: daly
    address: "C8:47:8C:12:34:56"
"""


def test_check_config_accepts_wired_batteries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wired.yaml"
    path.write_text(GOOD)
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: OK (4 batteries: house, van, shed, boat)"


def test_serial_defaults_and_links() -> None:
    config = parse_config(
        {
            "batteries": [
                {"name": "a", "type": "jbd", "address": "/dev/ttyUSB0"},
                {
                    "name": "b",
                    "type": "daly",
                    "address": "serial:/tmp/pty",
                    "serial": {"baudrate": 4800, "parity": "E"},
                },
            ]
        }
    )
    a, b = config.batteries
    link_a = wired_link(a.type, a.address, a.serial)
    assert link_a.address == "/dev/ttyUSB0" and link_a.port.port == "/dev/ttyUSB0"
    assert link_a.port.baudrate == 9600  # the family default
    assert link_a.port.framing == {"bytesize": 8, "parity": "N", "stopbits": 1}
    link_b = wired_link(b.type, b.address, b.serial)
    assert link_b.port.port == "/tmp/pty" and link_b.port.baudrate == 4800
    assert link_b.port.framing["parity"] == "E"
    assert wired_driver_kwargs("daly") == {"hosts": (daly.HOST_ALT, daly.HOST_BLE)}
    assert wired_driver_kwargs("jbd") == {}


@pytest.mark.parametrize(
    ("address", "wired"),
    [("/dev/ttyUSB0", True), ("serial:COM3", True), ("serial:rfc2217://h:7000", True),
     ("sim", False), ("C8:47:8C:12:34:56", False), ("JBD-SP04S034", False),
     ("dev/ttyUSB0", False)],
)  # fmt: skip
def test_address_rule(address: str, wired: bool) -> None:
    assert is_serial_address(address) is wired
    if wired:
        assert not serial_port(address).startswith("serial:")


BAD = [
    ("    address: /dev/ttyUSB0\n    serial: {baud: 9600}\n",
     "batteries[0].serial.baud", "unknown key"),
    ("    address: /dev/ttyUSB0\n    serial: {baudrate: 0}\n",
     "batteries[0].serial.baudrate", "greater than 0"),
    ("    address: /dev/ttyUSB0\n    serial: {parity: X}\n",
     "batteries[0].serial.parity", "'N', 'E', 'O', 'M' or 'S'"),
    ("    address: /dev/ttyUSB0\n    serial: {stopbits: 3}\n",
     "batteries[0].serial.stopbits", "Input should be"),
    ("    address: 'AA:BB:CC:DD:EE:FF'\n    serial: {baudrate: 9600}\n",
     "batteries[0].serial", "'serial:' needs a serial port address"),
    ("    serial: {baudrate: 9600}\n",
     "batteries[0].serial", "not 'sim'"),
    ("    address: 'serial:'\n",
     "batteries[0].address", "no port after 'serial:'"),
    ("    type: vedirect\n    port: /dev/ttyUSB0\n    serial: {baudrate: 19200}\n",
     "batteries[0].serial", "'serial:' is for wired batteries (types: daly, jbd)"),
    ("    port: /dev/ttyUSB0\n",
     "batteries[0].port", "takes its port in 'address: /dev/ttyUSB0'"),
]  # fmt: skip


@pytest.mark.parametrize(("tail", "field", "reason"), BAD)
def test_check_config_rejects_bad_serial_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: str, field: str, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    head = "batteries:\n  - name: a\n" + ("" if "type:" in tail else "    type: daly\n")
    path.write_text(head + tail)
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    line = captured.err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"batmux: {path}: {field}: "), line
    assert reason in line, line


def test_other_transports_keep_their_own_address_meaning() -> None:
    config = parse_config(
        {
            "batteries": [
                {
                    "name": "a",
                    "type": "vedirect",
                    "address": "/dev/ttyUSB0",
                    "port": "/dev/ttyUSB0",
                },
                {"name": "b", "type": "byd_modbus", "address": "/dev/ttyUSB1"},
            ]
        }
    )
    assert [b.serial for b in config.batteries] == [None, None]


def test_a_family_without_wired_support_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "jk.yaml"
    path.write_text("batteries:\n  - {name: a, type: jk, address: /dev/ttyUSB0}\n")
    assert main(["check-config", str(path)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"batmux: {path}: batteries[0].address: "), line
    assert "type 'jk' does not run on a wire (wired types: daly, jbd)" in line
