"""BYD Battery-Box Premium HV emulation for a Fronius Gen24: a pymodbus server over a live view.

Every request is answered from ``hub.latest(battery)`` at that moment through the pure
``protocols.byd_modbus.build_registers``; nothing is copied on a timer, so a poll can never see
older data than the hub has. Undefined registers get ILLEGAL_ADDRESS, writes outside 400–418
too, and requests for other unit ids get no answer at all (the RS485 line may be shared).

    emulator = BydModbusEmulator(cfg, hub)
    async with emulator:            # listening now (TCP ``listen`` or RTU ``port``)
        ...
        emulator.status()           # state / inverter_alive / counters, for MQTT
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from batmux.core.soc_window import apply_soc_window, window_status
from batmux.errors import LinkError
from batmux.protocols.byd_modbus import (
    BydState,
    EmulatorState,
    Identity,
    build_registers,
    defined,
    pack_capacity_wh,
    writable,
)
from batmux.runtime.hub import StateHub
from batmux.sinks.inverter_config import BydModbusInverterConfig
from batmux.sinks.soc_window_config import soc_window

log = logging.getLogger(__name__)

HOLDING_CODES = frozenset({3, 6, 16, 22, 23})  # read/write holding registers (+ mask, r/w)


class LiveDatastore(ModbusServerContext):
    """The pymodbus datastore: forwards every read and write to the emulator.

    ``super().__init__`` is skipped on purpose: it wants a static store. With ``simdevices``
    empty and ``old_simulator`` set, pymodbus 3.x calls these methods directly per request.
    """

    def __init__(self, emulator: BydModbusEmulator) -> None:
        self.old_simulator = True
        self.simdevices = []
        self._emulator = emulator

    def device_ids(self) -> list[int]:
        return [self._emulator.unit_id]

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        return self._emulator.read(device_id, func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int]
    ) -> ExcCodes | None:
        return self._emulator.write(device_id, func_code, address, values)


class BydModbusEmulator:
    """One emulated BYD battery for one ``inverters:`` entry."""

    def __init__(
        self,
        cfg: BydModbusInverterConfig,
        hub: StateHub,
        clock: Callable[[], float] = time.time,
        identity: Identity | None = None,
        stale_after_s: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.hub = hub
        self.clock = clock
        self.identity = identity or Identity()
        self.unit_id = cfg.unit_id
        self.window = soc_window(cfg.soc_window)
        self.emu = EmulatorState(
            fallback=cfg.fallback,
            alive_timeout_s=cfg.alive_timeout,
            stale_after_s=stale_after_s,
            on_inverter_silent=cfg.on_inverter_silent,
        )
        self.reads = 0
        self.writes = 0
        self.rejected = 0
        self.errors = 0
        self.last_poll_at: float | None = None
        self.started_at = clock()
        self.bound_address: tuple[str, int] | None = None
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    # -- the datastore side (called by pymodbus per request) --------------------------------
    def registers(self) -> dict[int, int]:
        real = self.hub.latest(self.cfg.battery)
        shown = apply_soc_window(real, self.window)
        # the power ratings (203/204/207/209) follow the whole pack, not the SoC window
        pack_wh = pack_capacity_wh(real) if self.window is not None else None
        return build_registers(shown, self.emu, self.clock(), self.identity, pack_wh)

    def _check(self, device_id: int, func_code: int) -> ExcCodes | None:
        if device_id != self.unit_id:
            raise NoSuchIdException(f"unit {device_id}")  # → no reply (ignore_missing_devices)
        self.last_poll_at = self.emu.last_request_at = self.clock()
        if func_code not in HOLDING_CODES:
            self.rejected += 1
            return ExcCodes.ILLEGAL_FUNCTION
        return None

    def read(
        self, device_id: int, func_code: int, address: int, count: int
    ) -> list[int] | ExcCodes:
        if exc := self._check(device_id, func_code):
            return exc
        if not defined(address, count):
            self.rejected += 1
            log.debug("%s: read of undefined %d×%d", self.cfg.link_name, address, count)
            return ExcCodes.ILLEGAL_ADDRESS
        try:
            regs = self.registers()
        except Exception:  # a bug here must cost one answer, never the server
            self.errors += 1
            log.exception("%s: building registers failed", self.cfg.link_name)
            return ExcCodes.DEVICE_FAILURE
        self.reads += 1
        return [regs[a] for a in range(address, address + count)]

    def write(
        self, device_id: int, func_code: int, address: int, values: Sequence[int]
    ) -> ExcCodes | None:
        if exc := self._check(device_id, func_code):
            return exc
        if not writable(address, len(values)):
            self.rejected += 1
            log.info("%s: rejected write %d×%d", self.cfg.link_name, address, len(values))
            return ExcCodes.ILLEGAL_ADDRESS
        before = self.emu.state
        if not self.emu.apply_write(address, list(values), self.clock()):
            self.rejected += 1
            return ExcCodes.ILLEGAL_VALUE
        self.writes += 1
        if self.emu.state != before:
            log.info("%s: inverter set state %s", self.cfg.link_name, self.emu.state.name)
        return None

    def silent_for(self) -> float:
        """Seconds since the inverter's last request (since the emulator started if none)."""
        last = self.last_poll_at if self.last_poll_at is not None else self.started_at
        return self.clock() - last

    # -- status for MQTT ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What the lead publishes as entities of this inverter link."""
        now = self.clock()
        state = self.hub.latest(self.cfg.battery)
        regs = self.registers()
        reported = BydState(regs[300])
        last = self.last_poll_at
        return {
            "state": reported.name.lower(),
            "requested_state": self.emu.state.name.lower(),
            "inverter_alive": self.emu.inverter_alive(now),
            "polling": last is not None and now - last <= self.cfg.alive_timeout,
            "fail_safe": self.emu.is_stale(state, now),
            "inverter_silent": self.emu.inverter_silent(now),
            "allowed_charge_power": regs[307],
            "allowed_discharge_power": regs[306],
            "requests": self.reads + self.writes + self.rejected,
            "reads": self.reads,
            "writes": self.writes,
            "rejected": self.rejected,
            "errors": self.errors,
            "last_poll_age": round(now - last, 1) if last is not None else None,
            **window_status(state, self.window),
        }

    # -- the server -------------------------------------------------------------------------
    def _make_server(self) -> ModbusTcpServer | ModbusSerialServer:
        context = LiveDatastore(self)
        if self.cfg.address is not None:
            return ModbusTcpServer(
                context,
                framer=FramerType.SOCKET,
                address=self.cfg.address,
                ignore_missing_devices=True,
            )
        return ModbusSerialServer(
            context,
            framer=FramerType.RTU,
            port=self.cfg.port or "",
            baudrate=self.cfg.baudrate,
            bytesize=8,
            parity="N",
            stopbits=1,
            ignore_missing_devices=True,
        )

    async def start(self) -> None:
        server = self._make_server()
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            where = self.cfg.listen or self.cfg.port
            raise LinkError(f"{self.cfg.link_name}: cannot serve Modbus on {where}") from exc
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self.bound_address = sockets[0].getsockname()[:2]
        log.info(
            "%s: BYD Modbus battery for %r on %s, unit %d",
            self.cfg.link_name,
            self.cfg.battery,
            self.bound_address or self.cfg.port,
            self.unit_id,
        )

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def __aenter__(self) -> BydModbusEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve(self) -> None:
        """Serve until cancelled."""
        await self.start()
        try:
            assert self._server is not None
            await self._server.serving
        finally:
            await self.stop()


async def run_byd_modbus(
    cfg: BydModbusInverterConfig,
    hub: StateHub,
    on_start: Callable[[BydModbusEmulator], None] | None = None,
    stale_after_s: float | None = None,
) -> None:
    """The runtime's task for one ``type: byd_modbus`` inverter; runs until cancelled.
    ``on_start`` receives the emulator so the caller can publish ``status()``;
    ``stale_after_s`` (e.g. the config's ``expire_after``) bounds how old a state may be."""
    emulator = BydModbusEmulator(cfg, hub, stale_after_s=stale_after_s)
    if on_start is not None:
        on_start(emulator)
    await emulator.serve()
