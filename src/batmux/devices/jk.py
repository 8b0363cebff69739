"""JK BMS driver (JK02 and JK04 alike): write 0x97 (device info), then 0x96; the BMS then
streams cell info. Which protocol and layout the frames have is the codec's business."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from batmux.devices.ble_driver import BleDriver, BleSpec
from batmux.errors import LinkTimeout
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import jk

JK_CHAR = uuid16(0xFFE1)
RESEND_S = 1.0  # re-send a request whose answer did not arrive within this
STREAM_GAP_S = 2.0  # cell-info frames stream every ~0.5 s; silence this long = stalled


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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if getattr(self, "_streaming", False):
            self.drain()  # only the freshest streamed frame counts
            try:
                frame = await self.next_frame(_is_type(jk.TYPE_CELLS), min(timeout, STREAM_GAP_S))
                return self.decode_now(self.codec, [frame])
            except LinkTimeout:
                self._streaming = False  # the stream stalled: ask for it again below
        if self.codec.device_info is None:
            await self._ask(jk.REG_DEVICE_INFO, jk.TYPE_DEVICE, deadline)
        frame = await self._ask(jk.REG_CELL_INFO, jk.TYPE_CELLS, deadline)
        self._streaming = True
        return self.decode_now(self.codec, [frame])

    async def _ask(self, register: int, frame_type: int, deadline: float) -> bytes:
        """Send a request until its answer arrives; a lost or corrupted answer is asked for
        again after ``RESEND_S`` instead of costing the whole timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await self.send(jk.command(register))
            wait = min(RESEND_S, deadline - loop.time())
            try:
                return await self.next_frame(_is_type(frame_type), max(wait, 0.01))
            except LinkTimeout:
                if loop.time() >= deadline - 0.01:
                    raise

    async def _write_switch(self, switch: str, on: bool) -> None:
        await self.send(jk.switch_command(switch, on))
