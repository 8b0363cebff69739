"""JK BMS driver: write 0x97 (device info), then 0x96; the BMS then streams cell info."""

from __future__ import annotations

from typing import ClassVar

from batmux.devices.ble_driver import BleDriver, BleSpec
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import jk

JK_CHAR = uuid16(0xFFE1)


def _is_type(frame_type: int):
    return lambda frame: frame[4] == frame_type


class JkDriver(BleDriver):
    spec: ClassVar[BleSpec] = BleSpec(
        service_uuid=uuid16(0xFFE0),
        notify_uuid=JK_CHAR,
        write_uuid=JK_CHAR,
        name_patterns=(r"^JK[-_]", r"^JK\d", r"^JK$"),
        manufacturer_ids=(0x0B65, 0x4B4A),
    )
    switches: ClassVar[tuple[str, ...]] = ("charge", "discharge", "balance")
    codec: jk.JkCodec

    async def start(self) -> None:
        await super().start()
        self._streaming = False

    async def read_sample(self, timeout: float) -> BatterySample:
        if not getattr(self, "_streaming", False):
            if self.codec.device_info is None:
                await self.send(jk.command(jk.REG_DEVICE_INFO))
                await self.next_frame(_is_type(jk.TYPE_DEVICE), timeout)
            await self.send(jk.command(jk.REG_CELL_INFO))
            self._streaming = True
        else:
            self.drain()  # only the freshest streamed frame counts
        frame = await self.next_frame(_is_type(jk.TYPE_CELLS), timeout)
        return self.decode_now(self.codec, [frame])

    async def _write_switch(self, switch: str, on: bool) -> None:
        await self.send(jk.switch_command(switch, on))
