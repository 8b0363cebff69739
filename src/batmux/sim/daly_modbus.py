"""Simulated Daly ``D2 03`` BMS: register reads from the status and settings blocks (any
start and count, CRC-16/MODBUS as the real module), and writes to the MOSFET / balancer switch
registers (answered with an echo). ``mos_sensor=False`` answers the MOS-temperature register
with 0 as modules without that sensor do (BMS_BLE-HA#70)."""

from __future__ import annotations

from dataclasses import replace

from batmux.devices.daly_modbus import DalyModbusDriver
from batmux.protocols import daly_modbus as dm
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class DalyModbusSimDevice(SimDevice):
    notify_uuid = DalyModbusDriver.spec.notify_uuid
    write_uuid = DalyModbusDriver.spec.write_uuid

    def __init__(self, battery: SimBattery, mos_sensor: bool = True) -> None:
        super().__init__(battery)
        self.mos_sensor = mos_sensor

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
        truth = battery.truth()
        if not self.mos_sensor:
            truth = replace(truth, mos_temperature_c=None)
        registers: dict[int, int] = dict(enumerate(dm.status_registers(truth)))
        settings = dm.settings_registers(
            battery.capacity_ah, battery.charge_enabled, battery.discharge_enabled
        )
        registers |= {dm.SETTINGS_START + i: r for i, r in enumerate(settings)}
        if value == 0 or value > 0x7F:
            return []
        return [dm.read_reply([registers.get(address + i, 0) for i in range(value)])]
