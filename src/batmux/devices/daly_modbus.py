"""Daly ``D2 03`` (H-series / DL- modules) BLE driver, reading as the field's readers do
(aiobmsble's daly_bms): the 9 registers from 0x3E that hold the MOS temperature, then the
62-register status block. Modules that do not answer the MOS read (or answer it with an absent
sensor) are not asked again on this connection. The rated capacity sits in the settings block
(0x80…), read once per connection.
"""

from __future__ import annotations

import contextlib

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import PolledBleDriver, deadline_in
from batmux.errors import CorruptFrame, LinkTimeout
from batmux.links.ble import BleLink, uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import daly_modbus as dm
from batmux.protocols.base import Codec


class DalyModbusDriver(PolledBleDriver):
    spec = BleSpec(
        service_uuid=uuid16(0xFFF0),
        notify_uuid=uuid16(0xFFF1),
        write_uuid=uuid16(0xFFF2),
        name_patterns=(r"^DL-",),
        manufacturer_ids=(0x102, 0x104, 0x302, 0x303, 0x402),
    )
    switches = ("charge", "discharge", "balance")

    def __init__(self, link: BleLink, codec: Codec, allow_control: bool = False) -> None:
        super().__init__(link, codec, allow_control)
        self.settings_read = False
        self.mos_block = True  # until the module shows it has no MOS-temperature read

    async def start(self) -> None:
        await super().start()
        self.settings_read = False
        self.mos_block = True

    async def read_sample(self, timeout: float) -> BatterySample:
        deadline = deadline_in(timeout)
        if not self.settings_read:
            # Best effort: without it the sample just has no capacity.
            request = dm.read_request(dm.SETTINGS_START, dm.SETTINGS_REGS)
            with contextlib.suppress(LinkTimeout):
                await self.ask(request, dm.is_settings, deadline_in(timeout / 3))
            self.settings_read = True
        frames: list[bytes] = []
        if self.mos_block:
            try:
                frames = await self.ask(dm.MOS_REQUEST, dm.is_mos_block, deadline_in(timeout / 3))
            except LinkTimeout:
                self.mos_block = False
            except CorruptFrame:
                pass  # asked again next sample
            else:
                self.mos_block = dm.mos_temperature_raw(frames[-1]) not in dm.NO_PROBE
        frames += await self.ask(dm.read_request(0, dm.STATUS_REGS), dm.is_status, deadline)
        return self.decode_now(self.codec, frames)

    async def _write_switch(self, switch: str, on: bool) -> None:
        request = dm.switch_request(switch, on)
        await self.ask(request, lambda frame: frame == request, deadline_in(5.0))  # echo
