"""A simulated BYD Battery-Box Premium HV on Modbus TCP: the device ``type: byd_modbus`` with
``address: sim`` polls.

The device side is our own BYD Modbus emulator (``sinks/byd_modbus.py``) fed by a
``SimBattery``, so the register map it serves is exactly the one the Gen24 emulation serves:
one register map in the project, not two. The pack behaves as in a running Gen24 system,
where the inverter has written 400 = 2: state ACTIVE, outer voltage and power filled.
"""

from __future__ import annotations

import socket

from batmux.protocols.byd_modbus import REG_COMMAND, BydState
from batmux.sim.battery import SimBattery
from batmux.sim.bms import SimStateHub
from batmux.sinks.byd_modbus import BydModbusEmulator
from batmux.sinks.inverter_config import BydModbusInverterConfig

COMMAND_ACTIVE = 2  # what a Gen24 writes to 400 once it has seen the battery


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the simulated battery binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def byd_modbus_battery(name: str, battery: SimBattery, listen: str) -> BydModbusEmulator:
    """The simulated battery's Modbus server (not started), already commanded ACTIVE."""
    cfg = BydModbusInverterConfig(
        type="byd_modbus",
        name=f"{name}-sim",
        battery=name,
        listen=listen,
        on_inverter_silent="report",  # a real pack does not zero its limits between polls
    )
    emulator = BydModbusEmulator(cfg, SimStateHub(name, battery))
    emulator.emu.apply_write(REG_COMMAND, [COMMAND_ACTIVE], emulator.clock())
    assert emulator.emu.state == BydState.ACTIVE
    return emulator


async def run_byd_modbus_battery(name: str, battery: SimBattery, listen: str) -> None:
    """Serve the simulated battery on ``listen`` (``HOST:PORT``) until cancelled."""
    await byd_modbus_battery(name, battery, listen).serve()
