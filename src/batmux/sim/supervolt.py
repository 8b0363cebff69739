"""A protocol-exact Supervolt v1 / E&J BMS: answers the realtime and capacity requests."""

from __future__ import annotations

from batmux.devices.supervolt import NUS_NOTIFY, NUS_WRITE
from batmux.protocols import supervolt
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class SupervoltSimDevice(SimDevice):
    notify_uuid = NUS_NOTIFY
    write_uuid = NUS_WRITE

    def __init__(
        self,
        battery: SimBattery,
        single_frame: bool = False,
        at_chatter: bool = False,
        wrong_checksum: bool = False,
    ) -> None:
        super().__init__(battery)
        self.single_frame = single_frame  # Metrisun/Chins variant
        self.at_chatter = at_chatter  # the BLE module's "AT\r\n" before a reply
        self.wrong_checksum = wrong_checksum  # like the "libattU…" modules
        self.requests: list[int] = []

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        cmd = supervolt.parse_request(data)
        if char_uuid != self.write_uuid or cmd is None:
            return []  # the real BMS ignores what it cannot parse
        self.requests.append(cmd)
        truth = self.battery.truth()
        if cmd == supervolt.CMD_REALTIME:
            frame = supervolt.build_realtime(truth, single_frame=self.single_frame)
        elif cmd == supervolt.CMD_CAPACITY:
            frame = supervolt.build_capacity(truth)
        else:
            return []
        if self.wrong_checksum:
            frame = _spoil_checksum(frame)
        return [supervolt.AT_MESSAGE + frame if self.at_chatter else frame]


def _spoil_checksum(frame: bytes) -> bytes:
    """The same frame with checksum + 1: the text stays valid hex, only the check fails."""
    bad = (int(frame[-3:-1], 16) + 1) & 0xFF
    return frame[:-3] + f"{bad:02X}".encode("ascii") + frame[-1:]
