"""A simulated Junctek KH-F shunt on a serial port: answers ``:R50=`` and ``:R51=``.

``JunctekSimDevice`` is the pure device side (a request line in, a reply line out, built
with the codec's ``build_reply``), driven by a ``SimBattery``. ``counter_error_ah`` makes its
Ah counter drift from the battery's true charge, as a real shunt's does, so the SoC fallback
has something to correct. ``JunctekSimulator`` answers on a byte link (one end of a socat pty
pair); ``JunctekSimPortLink`` is ``address: sim``: the same simulator on a pty of its own,
read through the real ``SerialLink``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from batmux.errors import LinkError, LinkTimeout
from batmux.protocols import junctek as j
from batmux.sim.battery import SimBattery, from_sim_config
from batmux.sim.port import ByteLink, PortSimulator
from batmux.sim.vedirect import PtyMaster, SimPortLink

log = logging.getLogger(__name__)
_REQUEST = re.compile(rb":R(\d\d)=(\d+),")


@dataclass
class JunctekSimDevice:
    battery: SimBattery
    address: int = 1
    counter_error_ah: float = 0.0  # the counter's drift from the true charge
    output_state: int = 0
    corrupt_next: int = 0  # send the next n replies with a wrong checksum (tests)
    requests: int = 0

    def measure_values(self) -> list[int]:
        s = self.battery.truth()
        current = s.current_a or 0.0
        capacity = self.battery.capacity_ah
        counted = min(capacity, max(0.0, (s.charge_ah or 0.0) + self.counter_error_ah))
        minutes = round(counted / -current * 60) if current < -0.01 else 0
        return [
            round((s.voltage_v or 0.0) * 100),
            round(abs(current) * 100),
            round(counted * 1000),
            0,  # discharge kWh ×0.001
            0,  # charge kWh ×0.001
            0,  # run record
            round(self.battery.temperature_c) + j.TEMP_OFFSET,
            round(abs(s.power_w or 0.0) * 100),
            self.output_state,
            j.CHARGING if current > 0 else 0,
            minutes,
            100,  # time adjust
            230208,  # date yymmdd
            112418,  # time hhmmss
        ]

    def settings_values(self) -> list[int]:
        capacity = round(self.battery.capacity_ah / j.CAPACITY_SCALE)
        return [0, 0, 0, 0, 0, 100, 0, 0, capacity, 100, 100, 100, 0, 0, 1]

    def handle(self, line: bytes) -> bytes | None:
        """The reply to one request line; None for lines a shunt ignores."""
        match = _REQUEST.search(line)
        if match is None or int(match[2]) != self.address:
            return None
        function = int(match[1])
        if function == j.MEASURE:
            values = self.measure_values()
        elif function == j.SETTINGS:
            values = self.settings_values()
        else:
            return None
        self.requests += 1
        reply = j.build_reply(function, self.address, values)
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            reply = reply.replace(b",", b",9", 1)  # the checksum no longer adds up
        return reply


class JunctekSimulator(PortSimulator):
    """Answers the host's request lines on ``link`` until the port goes away or ``stop()``."""

    def __init__(self, device: JunctekSimDevice, link: ByteLink) -> None:
        self.device = device
        self.link = link

    async def run(self) -> None:
        buffer = b""
        while True:
            try:
                buffer += await self.link.read(3600.0)
            except LinkTimeout:
                continue
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for line in lines:
                answer = self.device.handle(line)
                if answer is not None:
                    await self.link.write(answer)
            buffer = buffer[-j.MAX_LINE :]

    async def _guarded(self) -> None:
        try:
            await self.run()
        except LinkError as exc:
            log.info("junctek sim stopped: %s", exc)


class JunctekSimPortLink(SimPortLink):
    """``address: sim``: a ``JunctekSimulator`` on a pty this process creates."""

    def __init__(self, device: JunctekSimDevice) -> None:
        super().__init__(device)  # type: ignore[arg-type]
        self.junctek = device

    @classmethod
    def from_config(cls, battery: object) -> JunctekSimPortLink:
        sim = getattr(battery, "sim", None)
        sim_battery = from_sim_config(sim, cells=4, current_a=-5.0)
        return cls(JunctekSimDevice(sim_battery))

    def _simulator(self, pty: PtyMaster) -> PortSimulator:
        return JunctekSimulator(self.junctek, pty)
