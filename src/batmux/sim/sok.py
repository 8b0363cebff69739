"""A protocol-exact SOK / ABC-BMS: answers C0..C4 with the frames each request produces."""

from __future__ import annotations

from batmux.devices.sok import SokDriver
from batmux.protocols import sok
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class SokSimDevice(SimDevice):
    notify_uuid = SokDriver.spec.notify_uuid
    write_uuid = SokDriver.spec.write_uuid

    def __init__(
        self, battery: SimBattery, name: str = "SOK-BMS", protection_bits: int | None = 0
    ) -> None:
        super().__init__(battery)
        self.name = name
        self.protection_bits = protection_bits  # None: the pack ignores C4
        self.requests: list[int] = []

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        cmd = sok.parse_request(data)
        if char_uuid != self.write_uuid or cmd is None:
            return []
        self.requests.append(cmd)
        return sok.build_replies(cmd, self.battery.truth(), self.name, self.protection_bits)
