"""ANT BMS (2021+ protocol) BLE driver: the device-info request once per connection (as the
official app and the field's readers do; best effort), then one status request per sample."""

from __future__ import annotations

import contextlib

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import PolledBleDriver, deadline_in
from batmux.errors import CorruptFrame, LinkTimeout
from batmux.links.ble import BleLink, uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import ant
from batmux.protocols.base import Codec


def _is_status(frame: bytes) -> bool:
    return frame[2] == ant.REPLY_STATUS


class AntDriver(PolledBleDriver):
    spec = BleSpec(
        service_uuid=uuid16(0xFFE0),
        notify_uuid=uuid16(0xFFE1),
        write_uuid=uuid16(0xFFE1),  # write-without-response on the notify characteristic
        name_patterns=(r"^ANT-BLE",),
    )
    switches = ("charge", "discharge", "balance")

    def __init__(self, link: BleLink, codec: Codec, allow_control: bool = False) -> None:
        super().__init__(link, codec, allow_control)
        self.info_read = False

    async def start(self) -> None:
        await super().start()
        self.info_read = False

    async def read_sample(self, timeout: float) -> BatterySample:
        deadline = deadline_in(timeout)
        if not self.info_read:
            # Without it the sample just has no model / software version.
            with contextlib.suppress(LinkTimeout, CorruptFrame):
                await self.ask(
                    ant.DEVICE_INFO_REQUEST, ant.is_device_info, deadline_in(timeout / 3)
                )
            self.info_read = True
        frames = await self.ask(ant.STATUS_REQUEST, _is_status, deadline)
        return self.decode_now(self.codec, frames)

    async def _write_switch(self, switch: str, on: bool) -> None:
        # The official app sends no auth frame before these writes and waits for no answer.
        await self.send(ant.switch_request(switch, on))
