"""ANT BMS (2021+ protocol) BLE driver: one status request (func 0x01) per sample."""

from __future__ import annotations

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import PolledBleDriver, deadline_in
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import ant


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

    async def read_sample(self, timeout: float) -> BatterySample:
        frames = await self.ask(ant.STATUS_REQUEST, _is_status, deadline_in(timeout))
        return self.decode_now(self.codec, frames)

    async def _write_switch(self, switch: str, on: bool) -> None:
        # The official app sends no auth frame before these writes and waits for no answer.
        await self.send(ant.switch_request(switch, on))
