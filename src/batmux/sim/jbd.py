"""Simulated JBD BMS: answers 0x03 / 0x04 reads and honours 0xE1 MOSFET writes."""

from __future__ import annotations

from batmux.devices.jbd import JbdDriver
from batmux.protocols import jbd
from batmux.sim.peripheral import SimDevice


class JbdSimDevice(SimDevice):
    notify_uuid = JbdDriver.spec.notify_uuid
    write_uuid = JbdDriver.spec.write_uuid

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = jbd.parse_request(data) if char_uuid == self.write_uuid else None
        if parsed is None:
            return []
        register, write, payload = parsed
        if write and register == jbd.REG_MOSFET and len(payload) == 2:
            self.battery.charge_enabled = not payload[1] & 1
            self.battery.discharge_enabled = not payload[1] & 2
            return [jbd.response(jbd.REG_MOSFET, b"")]
        if write:
            return [jbd.response(register, b"", status=0x80)]
        truth = self.battery.truth().with_(mos_temperature_c=None)  # JBD has no MOSFET sensor
        if register == jbd.REG_BASIC:
            return [jbd.build_basic_info(truth)]
        if register == jbd.REG_CELLS:
            return [jbd.build_cells(truth)]
        if register == jbd.REG_HARDWARE:
            return [jbd.response(jbd.REG_HARDWARE, b"batmux-sim-jbd")]
        return [jbd.response(register, b"", status=0x80)]
