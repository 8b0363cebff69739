"""A protocol-exact JK02 BMS: answers 0x97 with device info (+ the ready message), 0x96 with
settings and then streams cell-info frames; honours switch writes."""

from __future__ import annotations

from batmux.devices.jk import JK_CHAR
from batmux.protocols import jk
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class JkSimDevice(SimDevice):
    notify_uuid = JK_CHAR
    write_uuid = JK_CHAR

    def __init__(self, battery: SimBattery, firmware: str = "11.48", stream_period_s: float = 0.5):
        super().__init__(battery)
        self.info = jk.DeviceInfo(
            model="JK_B2A24S20P",
            hardware="11.XW",
            software=firmware,
            name="JK-sim",
            serial="4057123456",
            power_on_count=3,
        )
        self.layout = self.info.layout
        self.stream_period_s = stream_period_s
        self._streaming = False
        self._counter = 0

    def _count(self) -> int:
        self._counter = (self._counter + 1) & 0xFF
        return self._counter

    def cell_frame(self) -> bytes:
        return jk.build_cell_info(self.battery.truth(), self.layout, self._count())

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = jk.parse_command(data)
        if parsed is None:
            return []  # the real BMS ignores what it cannot parse
        register, value = parsed
        b = self.battery
        if register == jk.REG_DEVICE_INFO:
            return [jk.build_device_info(self.info, self._count()) + jk.READY_MESSAGE]
        if register == jk.REG_CELL_INFO:
            self._streaming = True
            settings = jk.build_settings(
                b.cells,
                b.capacity_ah,
                b.charge_enabled,
                b.discharge_enabled,
                b.balancing,
                self._count(),
            )
            return [settings, self.cell_frame()]
        if register == jk.REG_CHARGE:
            b.charge_enabled = bool(value)
        elif register == jk.REG_DISCHARGE:
            b.discharge_enabled = bool(value)
        elif register == jk.REG_BALANCE:
            b.balancing = bool(value)
        return []

    def stream(self) -> list[bytes]:
        return [self.cell_frame()] if self._streaming else []
