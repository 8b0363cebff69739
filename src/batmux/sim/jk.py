"""Protocol-exact JK BMS simulators: answer 0x97 with device info (+ the ready message), 0x96
with settings and then stream cell-info frames; honour switch writes.

The configured ``type:`` decides the frames: ``jk02_24s`` / ``jk02_32s`` send that layout
whatever the firmware string says, ``jk04`` sends float32 JK04 frames, and ``jk`` follows the
firmware like a real pack (< 4 → JK04, < 11 → 24S, else 32S; ≥ 14 adds probes T3/T4).
Probe readings carry the presence mask real packs send (``jk.build_cell_info``).
"""

from __future__ import annotations

from typing import ClassVar

from batmux.devices.jk import JK_CHAR
from batmux.protocols import jk, jk04
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice


class JkSimDevice(SimDevice):
    notify_uuid = JK_CHAR
    write_uuid = JK_CHAR
    #: the layout a fixed ``type:`` sends ("jk04", "jk02_24s", "jk02_32s"); None: by firmware
    protocol: ClassVar[str | None] = None
    default_firmware: ClassVar[str] = "11.48"
    model: ClassVar[str] = "JK_B2A24S20P"
    hardware: ClassVar[str] = "11.XW"

    def __init__(
        self, battery: SimBattery, firmware: str | None = None, stream_period_s: float = 0.5
    ):
        super().__init__(battery)
        self.info = jk.DeviceInfo(
            model=self.model,
            hardware=self.hardware,
            software=firmware or self.default_firmware,
            name="JK-sim",
            serial="4057123456",
            power_on_count=3,
        )
        protocol = self.protocol
        if protocol is None:
            protocol = "jk04" if self.info.is_jk04 else self.info.layout.name
        self.is_jk04 = protocol == "jk04"
        self.layout = jk.LAYOUTS.get(protocol, jk.JK02_32S)
        self.extra_probes = self.layout is jk.JK02_32S and self.info.extra_probes
        self.stream_period_s = stream_period_s
        self._streaming = False
        self._counter = 0
        self._uptime_s = 0

    def _count(self) -> int:
        self._counter = (self._counter + 1) & 0xFF
        return self._counter

    def cell_frame(self) -> bytes:
        truth = self.battery.truth()
        if self.is_jk04:
            self._uptime_s += 1
            return jk04.build_cell_info(truth, self._count(), self._uptime_s)
        return jk.build_cell_info(truth, self.layout, self._count(), self.extra_probes)

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
            if self.is_jk04:  # as the B2A16S btsnoop: settings, ready message, cell stream
                settings = jk04.build_settings(b.cells, b.balancing, self._count())
                return [settings + jk.READY_MESSAGE, self.cell_frame()]
            settings = jk.build_settings(
                b.cells,
                b.capacity_ah,
                b.charge_enabled,
                b.discharge_enabled,
                b.balancing,
                self._count(),
            )
            return [settings, self.cell_frame()]
        if self.is_jk04:
            return []  # JK04 has other switch registers; batmux writes none
        if register == jk.REG_CHARGE:
            b.charge_enabled = bool(value)
        elif register == jk.REG_DISCHARGE:
            b.discharge_enabled = bool(value)
        elif register == jk.REG_BALANCE:
            b.balancing = bool(value)
        return []

    def stream(self) -> list[bytes]:
        return [self.cell_frame()] if self._streaming else []


class Jk24sSimDevice(JkSimDevice):
    protocol = "jk02_24s"
    default_firmware = "10.08"
    model = "JK-B2A24S20P"
    hardware = "10.XW"


class Jk32sSimDevice(JkSimDevice):
    protocol = "jk02_32s"


class Jk04SimDevice(JkSimDevice):
    """JK-B2A16S hw 3.0 sw 3.3.0 (the syssi/esphome-jk-bms JK04 capture's device)."""

    protocol = "jk04"
    default_firmware = "3.3.0"
    model = "JK-B2A16S"
    hardware = "3.0"
