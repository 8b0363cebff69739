"""A VE.Direct device (SmartShunt or MPPT) driven by ``SimBattery``, encoded by the real codec.

``VeDirectSimDevice`` is the pure device side: ``next_output()`` gives the bytes of one second
(text blocks with checksums, now and then an async HEX frame inside a block), ``handle(line)``
answers a HEX Get/Set. ``VeDirectSimulator`` puts it on a serial port (one end of a socat pty
pair) or on a pty it creates itself (``open_pty``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tty
from typing import Literal

from batmux.errors import BatmuxError, LinkTimeout, ProtocolError
from batmux.protocols.vedirect_hex import (
    CMD_ASYNC,
    CMD_GET,
    CMD_PING,
    CMD_SET,
    DEVICE_MODE_OFF,
    DEVICE_MODE_ON,
    FLAG_PARAMETER_ERROR,
    FLAG_UNKNOWN_ID,
    REG_BATTERY_CAPACITY,
    REG_DEVICE_MODE,
    REG_SOC,
    RSP_ERROR,
    RSP_PING,
    build_register_response,
    encode_hex,
    parse_hex_frame,
)
from batmux.protocols.vedirect_text import encode_block
from batmux.sim.battery import SimBattery, from_sim_config
from batmux.sim.port import ByteLink, PortSimulator

log = logging.getLogger(__name__)
FRAME_ERROR = b":4AAAAFD\n"  # what a device answers to a HEX frame with a bad checksum
Kind = Literal["bmv", "mppt"]


class VeDirectSimDevice:
    def __init__(
        self,
        battery: SimBattery,
        kind: Kind = "bmv",
        hex_every: int = 3,
        corrupt_rate: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.battery = battery
        self.kind = kind
        self.hex_every = hex_every  # interleave an async HEX frame every n-th second (0 = never)
        self.corrupt_rate = corrupt_rate
        self.corrupt_next = 0  # corrupt the next n blocks (tests)
        self.charger_on = True
        self.seconds = 0
        self.blocks_corrupted = 0
        self._rng = random.Random(seed)

    # -- text blocks ---------------------------------------------------------------------
    def bmv_blocks(self) -> list[list[tuple[str, str]]]:
        s = self.battery.truth()
        v, i = s.voltage_v or 0.0, s.current_a or 0.0
        charge = s.charge_ah or 0.0
        ttg = round(charge / -i * 60) if i < -0.05 else -1
        live = [
            ("PID", "0xA389"),
            ("V", str(round(v * 1000))),
            ("I", str(round(i * 1000))),
            ("P", str(round(v * i))),
            ("CE", str(-round((self.battery.capacity_ah - charge) * 1000))),
            ("SOC", str(round(self.battery.soc_pct * 10))),
            ("TTG", str(ttg)),
            ("T", str(round(self.battery.temperature_c))),
            ("Alarm", "OFF"),
            ("Relay", "OFF"),
            ("AR", "0"),
            ("BMV", "SmartShunt 500A/50mV"),
            ("FW", "0416"),
        ]
        history = [(f"H{n}", "0") for n in range(1, 19)]
        history[3] = ("H4", str(self.battery.cycles))
        return [live, history]

    def mppt_blocks(self) -> list[list[tuple[str, str]]]:
        s = self.battery.truth()
        v = s.voltage_v or 0.0
        i = max(s.current_a or 0.0, 0.0) if self.charger_on else 0.0
        ppv = round(v * i / 0.97)
        if not self.charger_on:
            cs, off_reason = 0, 0x4
        elif i <= 0:
            cs, off_reason = 0, 0x1
        else:
            cs, off_reason = (3 if self.battery.soc_pct < 95 else 4), 0
        return [
            [
                ("PID", "0xA053"),
                ("FW", "159"),
                ("SER#", "HQ0000SIM01"),
                ("V", str(round(v * 1000))),
                ("I", str(round(i * 1000))),
                ("VPV", str(round(v * 1600) if ppv else 0)),
                ("PPV", str(ppv)),
                ("CS", str(cs)),
                ("MPPT", "2" if cs else "0"),
                ("OR", f"0x{off_reason:08X}"),
                ("ERR", "0"),
                ("LOAD", "ON"),
                ("IL", "0"),
                ("H19", "1234"),
                ("H20", "12"),
                ("H21", str(ppv)),
                ("H22", "87"),
                ("H23", "412"),
                ("HSDS", "17"),
            ]
        ]

    def next_output(self) -> bytes:
        """One second of output: every block of the device, maybe with an async HEX frame."""
        self.seconds += 1
        fields = self.bmv_blocks() if self.kind == "bmv" else self.mppt_blocks()
        out = b""
        for n, block_fields in enumerate(fields):
            block = encode_block(block_fields)
            if self.corrupt_next > 0 or self._rng.random() < self.corrupt_rate:
                self.corrupt_next = max(0, self.corrupt_next - 1)
                block = corrupt(block)
                self.blocks_corrupted += 1
            if n == 0 and self.hex_every and self.seconds % self.hex_every == 0:
                block = interleave(block, self.async_frame())
            out += block
        return out

    def async_frame(self) -> bytes:
        """An unsolicited HEX frame a real device sends now and then (here: the SoC/mode)."""
        if self.kind == "bmv":
            soc = round(self.battery.soc_pct * 100).to_bytes(2, "little")
            return build_register_response(CMD_ASYNC, REG_SOC, soc)
        return build_register_response(CMD_ASYNC, REG_DEVICE_MODE, bytes([self._mode()]))

    # -- HEX -----------------------------------------------------------------------------
    def _mode(self) -> int:
        return DEVICE_MODE_ON if self.charger_on else DEVICE_MODE_OFF

    def registers(self) -> dict[int, bytes]:
        if self.kind == "bmv":
            return {
                REG_BATTERY_CAPACITY: round(self.battery.capacity_ah).to_bytes(2, "little"),
                REG_SOC: round(self.battery.soc_pct * 100).to_bytes(2, "little"),
            }
        return {REG_DEVICE_MODE: bytes([self._mode()])}

    def handle(self, line: bytes) -> bytes | None:
        """The answer to one HEX command line, or None for frames a device ignores."""
        try:
            frame = parse_hex_frame(line)
        except ProtocolError:
            return FRAME_ERROR
        if frame.command == CMD_PING:
            return encode_hex(RSP_PING, bytes([0x59, 0x41]))  # app version 4.159 (LE, type 4)
        if frame.command not in (CMD_GET, CMD_SET) or frame.register is None:
            return encode_hex(RSP_ERROR, b"\x00\x00") if frame.command != CMD_ASYNC else None
        registers = self.registers()
        reg = frame.register
        if reg not in registers:
            return build_register_response(frame.command, reg, b"", FLAG_UNKNOWN_ID)
        if frame.command == CMD_SET:
            if reg != REG_DEVICE_MODE or frame.value not in (b"\x01", b"\x04"):
                return build_register_response(CMD_SET, reg, frame.value, FLAG_PARAMETER_ERROR)
            self.charger_on = frame.value == bytes([DEVICE_MODE_ON])
            registers = self.registers()
        return build_register_response(frame.command, reg, registers[reg])


def corrupt(block: bytes) -> bytes:
    """Change one digit of the first value so the checksum no longer adds up."""
    at = block.index(b"\t", block.index(b"\nV\t") if b"\nV\t" in block else 0) + 1
    digit = block[at]
    new = ord("1") if digit != ord("1") else ord("2")
    return block[:at] + bytes([new]) + block[at + 1 :]


def interleave(block: bytes, hex_frame: bytes) -> bytes:
    """Put a HEX frame between two lines in the middle of a text block."""
    at = block.find(b"\r\n", len(block) // 2)
    return block[:at] + hex_frame + block[at:] if at > 0 else hex_frame + block


# -- I/O -----------------------------------------------------------------------------------
class PtyMaster:
    """The master end of a pty this process created; the slave path is handed to the source."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no CR/LF translation, no echo
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self._data: asyncio.Queue[bytes] = asyncio.Queue()
        asyncio.get_running_loop().add_reader(self.master, self._on_readable)

    def _on_readable(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._data.put_nowait(os.read(self.master, 4096))

    async def read(self, timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._data.get()
        except TimeoutError as exc:
            raise LinkTimeout("pty: nothing received") from exc

    async def write(self, data: bytes) -> None:
        # Nobody reading: the bytes are lost, as on a real wire.
        with contextlib.suppress(BlockingIOError):
            os.write(self.master, data)

    async def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.master)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class VeDirectSimulator(PortSimulator):
    """Writes the device's output every ``period_s`` and answers HEX commands on a link."""

    def __init__(self, device: VeDirectSimDevice, link: ByteLink, period_s: float = 1.0) -> None:
        self.device = device
        self.link = link
        self.period_s = period_s
        self.commands = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._write_loop())
            tg.create_task(self._answer_loop())

    async def _write_loop(self) -> None:
        while True:
            await self.link.write(self.device.next_output())
            await asyncio.sleep(self.period_s)

    async def _answer_loop(self) -> None:
        buffer = b""
        while True:
            try:
                buffer += await self.link.read(3600.0)
            except LinkTimeout:
                continue
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                start = line.rfind(b":")
                if start < 0:
                    continue
                self.commands += 1
                answer = self.device.handle(line[start:])
                if answer is not None:
                    await self.link.write(answer)
            buffer = buffer[-256:]

    async def _guarded(self) -> None:
        try:
            await self.run()
        except* BatmuxError as group:
            log.warning("vedirect sim stopped: %s", group.exceptions[0])


class SimPortLink:
    """A serial link to a simulator on a pty of our own (``address: sim``).

    The first ``open()`` creates the pty and starts the simulator; the source then reads the
    slave end through the real ``SerialLink``. ``shutdown()`` stops the simulator.
    """

    def __init__(self, device: VeDirectSimDevice, period_s: float = 1.0) -> None:
        from batmux.links.serial_link import SerialLink

        self.device = device
        self.period_s = period_s
        self.simulator: PortSimulator | None = None
        self._serial = SerialLink("")
        self.port = ""

    @classmethod
    def from_config(cls, battery: object) -> SimPortLink:
        sim = getattr(battery, "sim", None)
        kind: Kind = "mppt" if getattr(battery, "address", "") == "sim:mppt" else "bmv"
        sim_battery = from_sim_config(sim, cells=4, current_a=-5.0)
        rate = sim.corrupt_rate if sim else 0.0
        return cls(VeDirectSimDevice(sim_battery, kind, corrupt_rate=rate))

    async def open(self, timeout: float = 5.0) -> None:
        if self.simulator is None:
            pty = PtyMaster()
            self.simulator = self._simulator(pty)
            self.simulator.start()
            self.port = self._serial.port = pty.path
        await self._serial.open(timeout)

    def _simulator(self, pty: PtyMaster) -> PortSimulator:
        """The device end on our pty (other serial simulators override this)."""
        return VeDirectSimulator(self.device, pty, self.period_s)

    async def read(self, timeout: float) -> bytes:
        return await self._serial.read(timeout)

    async def write(self, data: bytes) -> None:
        await self._serial.write(data)

    async def close(self) -> None:
        await self._serial.close()

    async def shutdown(self) -> None:
        await self._serial.close()
        if self.simulator is not None:
            await self.simulator.stop()
            self.simulator = None
