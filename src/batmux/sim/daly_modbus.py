"""Simulated Daly ``D2 03`` BMS: register reads from the status and settings blocks, and
writes to the MOSFET / balancer switch registers (answered with an echo)."""

from __future__ import annotations

from batmux.devices.daly_modbus import DalyModbusDriver
from batmux.protocols import daly_modbus as dm
from batmux.sim.peripheral import SimDevice


class DalyModbusSimDevice(SimDevice):
    notify_uuid = DalyModbusDriver.spec.notify_uuid
    write_uuid = DalyModbusDriver.spec.write_uuid

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = dm.parse_request(data) if char_uuid == self.write_uuid else None
        if parsed is None:
            return []
        func, address, value = parsed
        battery = self.battery
        if func == dm.WRITE:
            if address == dm.REG_CHARGE_SWITCH:
                battery.charge_enabled = bool(value)
            elif address == dm.REG_DISCHARGE_SWITCH:
                battery.discharge_enabled = bool(value)
            elif address == dm.REG_BALANCE_SWITCH:
                battery.balancing = bool(value)
            else:
                return []
            return [data]
        registers: dict[int, int] = dict(enumerate(dm.status_registers(battery.truth())))
        settings = dm.settings_registers(
            battery.capacity_ah, battery.charge_enabled, battery.discharge_enabled
        )
        registers |= {dm.SETTINGS_START + i: r for i, r in enumerate(settings)}
        if value == 0 or value > 0x7F:
            return []
        return [dm.read_reply([registers.get(address + i, 0) for i in range(value)])]
