"""A request/response JK02 device and driver for link tests (no streaming, so a silent device
stays silent): 0x96 → one cell-info frame, 0x97 → device info. Built on the real JK codec."""

from __future__ import annotations

from typing import ClassVar

from batmux.devices.ble_driver import BleDriver, BleSpec
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import jk
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice

CHAR = uuid16(0xFFE1)
SERVICE = uuid16(0xFFE0)


class MiniJkDevice(SimDevice):
    notify_uuid = CHAR
    write_uuid = CHAR

    def __init__(self, battery: SimBattery | None = None) -> None:
        super().__init__(battery or SimBattery(cells=8, soc_pct=55.0, current_a=3.0))
        self.info = jk.DeviceInfo(model="JK_MINI", hardware="11.XW", software="11.48")

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = jk.parse_command(data)
        if parsed is None:
            return []
        if parsed[0] == jk.REG_CELL_INFO:
            return [jk.build_cell_info(self.battery.truth(), jk.JK02_32S)]
        if parsed[0] == jk.REG_DEVICE_INFO:
            return [jk.build_device_info(self.info)]
        return []


class MiniJkDriver(BleDriver):
    spec: ClassVar[BleSpec] = BleSpec(SERVICE, CHAR, CHAR)

    async def read_sample(self, timeout: float) -> BatterySample:
        await self.send(jk.command(jk.REG_CELL_INFO))
        frame = await self.next_frame(lambda f: f[4] == jk.TYPE_CELLS, timeout)
        return self.decode_now(self.codec, [frame])
