"""Daly classic (``A5``) BLE driver: one request per command 0x90 … 0x98.

The host-address byte is 0x80 for Bluetooth, but some modules answer only 0x40 (batmon-ha#416):
the first request tries 0x80, then 0x40, and the address that answered is kept. On a wired
port the transport passes ``hosts=(0x40, 0x80)``: 0x40 is what UART/RS485 boards expect.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import ASKS, PolledBleDriver, deadline_in, left
from batmux.errors import CorruptFrame, LinkTimeout
from batmux.links.ble import BleLink, uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import daly
from batmux.protocols.base import Codec

log = logging.getLogger(__name__)

# (command, number of replies to wait for; None = derived from the cell / sensor count)
SEQUENCE = ((daly.CMD_MOSFET, 1), (daly.CMD_STATUS, 1), (daly.CMD_CELLS, None),
            (daly.CMD_TEMPS, None), (daly.CMD_BALANCE, 1), (daly.CMD_FAULTS, 1))  # fmt: skip


def _reply_to(cmd: int) -> Callable[[bytes], bool]:
    return lambda frame: frame[2] == cmd


NUMBERED = (daly.CMD_CELLS, daly.CMD_TEMPS)


def _numbered_reply(cmd: int, count: int) -> Callable[[bytes], bool]:
    return lambda frame: frame[2] == cmd and 1 <= frame[4] <= count


def _frame_number(frame: bytes) -> int:
    return frame[4]


class DalyDriver(PolledBleDriver):
    spec = BleSpec(
        service_uuid=uuid16(0xFFF0),
        notify_uuid=uuid16(0xFFF1),
        write_uuid=uuid16(0xFFF2),
        name_patterns=(r"^DL-", r"^Daly", r"^DALY"),
    )
    switches = ("charge", "discharge")
    hosts = (daly.HOST_BLE, daly.HOST_ALT)

    def __init__(
        self,
        link: BleLink,
        codec: Codec,
        allow_control: bool = False,
        hosts: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(link, codec, allow_control)
        if hosts:
            self.hosts = hosts  # host addresses to try, in order (chosen by the transport)
        self.host: int | None = None  # learnt from the first answer

    async def _first(self, deadline: float) -> list[bytes]:
        """0x90 with the known host address, or each candidate in turn."""
        hosts = (self.host,) if self.host is not None else self.hosts
        for i, host in enumerate(hosts):
            budget = left(deadline) / (len(hosts) - i)
            # while probing, silence means "wrong host": try the next one, not the same again
            asks = ASKS if len(hosts) == 1 else 1
            try:
                frames = await self.ask(daly.request(daly.CMD_SOC, host), _reply_to(daly.CMD_SOC),
                                        deadline_in(budget), asks=asks)  # fmt: skip
            except CorruptFrame:
                self.host = host  # a garbled answer is still an answer: this host is right
                raise
            except LinkTimeout:
                if host == hosts[-1]:
                    raise
                log.debug("Daly: no answer with host address 0x%02x, trying the next", host)
                continue
            self.host = host
            return frames
        raise LinkTimeout("no Daly host address answered")  # unreachable: loop raises

    async def read_sample(self, timeout: float) -> BatterySample:
        deadline = deadline_in(timeout)
        frames = await self._first(deadline)
        cells = temps = 0
        for cmd, count in SEQUENCE:
            if count is None:
                per = daly.CELLS_PER_FRAME if cmd == daly.CMD_CELLS else daly.TEMPS_PER_FRAME
                count = math.ceil((cells if cmd == daly.CMD_CELLS else temps) / per)
                if count == 0:
                    continue
            request = daly.request(cmd, self.host or self.hosts[0])
            # 0x95/0x96 answer with numbered frames (16 / 3 however few are used): only numbers
            # 1..count count, and a re-sent request only has to fill the gaps
            accept = _numbered_reply(cmd, count) if cmd in NUMBERED else _reply_to(cmd)
            # keyed even for one frame: a corrupt leftover of the 16 cell frames is not ours
            frames += await self.ask(request, accept, deadline, count, key=_frame_number)
            if cmd == daly.CMD_STATUS:
                cells, temps = frames[-1][4], frames[-1][5]
        return self.decode_now(self.codec, frames)

    async def _write_switch(self, switch: str, on: bool) -> None:
        deadline = deadline_in(5.0)
        if self.host is None:
            await self._first(deadline)
        host = self.host or self.hosts[0]
        cmd = daly.SWITCH_COMMANDS[switch]
        await self.ask(daly.switch_request(switch, on, host), _reply_to(cmd), deadline)
        # The meaning of the data byte is disputed: read back 0x93 and say so if it did not take.
        mos = await self.ask(daly.request(daly.CMD_MOSFET, host), _reply_to(daly.CMD_MOSFET),
                             deadline)  # fmt: skip
        now_on = bool(mos[0][5 if switch == "charge" else 6])
        if now_on != on:
            log.warning("Daly %s MOSFET reads %s after switching it %s", switch,
                        "on" if now_on else "off", "on" if on else "off")  # fmt: skip
