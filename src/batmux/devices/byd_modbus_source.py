"""A real BYD Battery-Box Premium HV as a source, read over Modbus like a Gen24 reads it.

``address:`` is ``HOST:PORT`` (Modbus TCP, e.g. an RS485-to-TCP gateway) or a serial port
(``/dev/ttyUSB0``, RTU 9600 8N1), or ``sim``: a simulated battery served on loopback
(``sim/byd_modbus.py``). Unit id 21. We only read: the battery stays in whatever state
its inverter commanded; 400–418 are never written from here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from batmux.devices.health import Health
from batmux.errors import BatmuxError, ControlRefused, LinkTimeout, ProtocolError
from batmux.links.modbus import ModbusLink
from batmux.model.sample import BatterySample
from batmux.protocols.byd_modbus import LIVE, SYSTEM, UNIT_ID, decode_registers

log = logging.getLogger(__name__)


class BydModbusSource:
    """Polls 300×24 on every ``sample()``; 200×13 once per connection."""

    def __init__(self, name: str, link: ModbusLink) -> None:
        self.name = name
        self.link = link
        self.health = Health()
        self._system: dict[int, int] = {}

    async def sample(self) -> BatterySample:
        try:
            if not self._system:
                values = await self.link.read(*SYSTEM)
                self._system = dict(
                    zip(range(SYSTEM[0], SYSTEM[0] + SYSTEM[1]), values, strict=True)
                )
            live = await self.link.read(*LIVE)
            regs = dict(zip(range(LIVE[0], LIVE[0] + LIVE[1]), live, strict=True))
            sample = decode_registers({**self._system, **regs}, time.time())
        except BatmuxError as exc:
            if isinstance(exc, LinkTimeout):
                self.health.timeouts += 1
            elif isinstance(exc, ProtocolError):
                self.health.corrupt_frames += 1
            else:
                self.health.drops += 1
                self._system = {}
                self.link.close()
            self.health.error(f"{type(exc).__name__}: {exc}")
            raise
        self.health.samples += 1
        return sample

    async def close(self) -> None:
        self.link.close()

    async def set_switch(self, switch: str, on: bool) -> None:
        raise ControlRefused(f"{self.name}: a BYD battery is switched by its inverter, not by us")


def create_source(cfg: Any, context: Any = None) -> BydModbusSource:
    """Registry factory: ``(BatteryConfig, context) -> Source``."""
    if cfg.lacks_required_address:  # the config check says so first; this guards direct use
        raise ValueError(
            f"{cfg.name}: type byd_modbus needs 'address: HOST:PORT' or a serial port "
            "('address: sim' simulates a BYD battery)"
        )
    if cfg.is_sim:
        return _simulated_source(cfg)
    link = ModbusLink(cfg.address, UNIT_ID, timeout_s=min(float(cfg.timeout), 5.0))
    return BydModbusSource(cfg.name, link)


def _simulated_source(cfg: Any) -> BydModbusSource:
    """The real source polling a simulated BYD battery on a free loopback port over TCP.

    The gateway runs its ``background``: the battery's Modbus server, for ``sim.stop_after``
    seconds or for ever.
    """
    from batmux.sim.battery import from_sim_config
    from batmux.sim.bms import run_for
    from batmux.sim.byd_modbus import free_tcp_port, run_byd_modbus_battery

    listen = f"127.0.0.1:{free_tcp_port()}"
    link = ModbusLink(listen, UNIT_ID, timeout_s=min(float(cfg.timeout), 5.0))
    source = BydModbusSource(cfg.name, link)
    simulated = from_sim_config(cfg.sim)
    stop_after = cfg.sim.stop_after if cfg.sim is not None else None
    source.background = lambda: run_for(  # type: ignore[attr-defined]
        stop_after, run_byd_modbus_battery(cfg.name, simulated, listen)
    )
    return source
