"""Simulated Daly classic (``A5``) BMS, with the BLE quirks: all 16 cell frames and all 3
temperature frames whatever the pack size, and optionally only one accepted host address."""

from __future__ import annotations

from batmux.devices.daly import DalyDriver
from batmux.protocols import daly
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class DalySimDevice(SimDevice):
    notify_uuid = DalyDriver.spec.notify_uuid
    write_uuid = DalyDriver.spec.write_uuid

    def __init__(
        self, battery: SimBattery, hosts: tuple[int, ...] = (daly.HOST_BLE, daly.HOST_ALT)
    ) -> None:
        super().__init__(battery)
        self.hosts = hosts  # (0x40,) reproduces the module of batmon-ha#416

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = daly.parse_request(data) if char_uuid == self.write_uuid else None
        if parsed is None or parsed[0] not in self.hosts:
            return []
        _, cmd, payload = parsed
        if cmd in (daly.CMD_SET_CHARGE, daly.CMD_SET_DISCHARGE):
            on = payload[0] == 1
            if cmd == daly.CMD_SET_CHARGE:
                self.battery.charge_enabled = on
            else:
                self.battery.discharge_enabled = on
            return [daly.frame(daly.REPLY_ADDR, cmd, payload)]
        return daly.build_replies(cmd, self.battery.truth())
