"""A simulated Nissan LEAF pack (LBC) on a CAN bus, driven by the shared ``SimBattery``.

Sends what a woken AZE0 30 kWh pack sends, at the real periods: 0x1DB and 0x1DC every 10 ms
(PRUN counter + CRC-8), 0x55B and 0x5BC every 100 ms (0x5BC alternating GIDs / max GIDs),
0x5C0 every 500 ms (max/avg/min temperature mux). It answers LBC polls (``02 21 GG`` on
0x79B) on 0x7BB with ISO-TP: a first frame, then consecutive frames only as the poller's flow
control allows (block size, STmin), giving up after 1 s without one; a request that arrives
mid-reply is dropped, as the real LBC does. ``corrupt_rate`` spoils the CRC of that share of
0x1DB frames.

``require_keepalive=True`` models a pack outside its car: its main relay stays open (0x1DB
"main relay on" = 0) until every keep-alive frame of the car comes valid
(``protocols.nissan_leaf_keepalive``: 0x1D4 CRC, 0x1F2 checksum, 0x50B wake-up, 0x50C with a
known ALU challenge and its CRC), and opens again when any of them stops (0.2 s for the 10 ms
frames, 0.5 s for the 100 ms ones). The simulator does not answer the challenge in 0x55B.

The cell model is the shared LFP one (96 cells in series), so pack voltages are lower than a
real LEAF's NMC/LMO cells; the frames are what matters here."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from batmux.links.can_bus import CanLink
from batmux.protocols import nissan_leaf_keepalive as ka
from batmux.protocols.isotp import FLOW, kind, parse_flow_control, segment
from batmux.protocols.nissan_leaf_frames import (
    CELLS,
    ENERGY,
    HISTORY,
    LIMITS,
    REPLY,
    REQUEST,
    SOC,
    STATUS,
    WH_PER_GID,
    encode_frame,
)
from batmux.sim.battery import SimBattery

log = logging.getLogger(__name__)

TICK_S = 0.01
FC_TIMEOUT_S = 1.0
CHARGE_KW, DISCHARGE_KW = 20.0, 80.0
NEGATIVE_RESPONSE = bytes.fromhex("037F2131FFFFFFFF")  # request out of range
KEEPALIVE_TIMEOUT_S = 0.2
SLOW_KEEPALIVE_TIMEOUT_S = 0.5  # 0x50B/0x50C come every 100 ms
# the car's frames the pack waits for, and how long each may be missing
VCM_TIMEOUTS = {
    ka.VCM_1D4: KEEPALIVE_TIMEOUT_S,
    ka.VCM_1F2: KEEPALIVE_TIMEOUT_S,
    ka.VCM_50B: SLOW_KEEPALIVE_TIMEOUT_S,
    ka.VCM_50C: SLOW_KEEPALIVE_TIMEOUT_S,
}


def _u(value: float, size: int) -> bytes:
    return max(0, min(round(value), (1 << 8 * size) - 1)).to_bytes(size, "big")


def group_payload(battery: SimBattery, group: int) -> bytes | None:
    """The LBC's reply to ``21 GG`` (AZE0 layouts), or None for a group it does not know."""
    cells = battery.cell_voltages()
    voltage = sum(cells)
    if group == 0x01:
        p = bytearray(0x2B)
        p[0:2] = b"\x61\x01"
        p[20:22] = _u(voltage * 100, 2)
        p[24:26] = _u(1500, 2)  # insulation kΩ
        p[28:30] = _u(9000, 2)  # Hx 90 %
        p[31:34] = _u(battery.soc_pct * 10000, 3)
        p[35:38] = _u(battery.capacity_ah * 10000, 3)
        return bytes(p)
    if group == 0x02:
        body = b"".join(_u(v * 1000, 2) for v in cells[:CELLS])
        return b"\x61\x02" + body + _u(voltage * 100, 2) * 2
    if group == 0x04:
        t = battery.temperature_c
        sensors = [(int(700 - 5 * t), t), (int(700 - 5 * t), t + 1), None, (int(700 - 5 * t), t)]
        body = b"".join(
            b"\xff\xff\xff" if s is None else _u(s[0], 2) + bytes([round(s[1]) & 0xFF])
            for s in sensors
        )
        return b"\x61\x04" + body + bytes([round(t) & 0xFF, 0])
    return None


class LeafPackSim:
    """The pack's broadcast schedule and its diagnostic server, on one link."""

    def __init__(
        self,
        battery: SimBattery,
        link: CanLink,
        corrupt_rate: float = 0.0,
        require_keepalive: bool = False,
    ) -> None:
        self.battery = battery
        self.link = link
        self.corrupt_rate = corrupt_rate
        self.require_keepalive = require_keepalive
        # the car's frames as last seen valid: 0x1D4/0x1F2 (10 ms), 0x50B/0x50C (100 ms)
        self.vcm_seen: dict[int, float] = {}
        self.bad_vcm_frames = 0
        self.replies = 0
        self.aborted = 0
        self.dropped_requests = 0
        self.flow_controls: list[bytes] = []
        self._rng = random.Random(battery.seed)
        self._fc: asyncio.Queue[bytes] = asyncio.Queue()
        self._transfer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with self.link, asyncio.TaskGroup() as tasks:
            tasks.create_task(self._broadcast())
            tasks.create_task(self._serve())

    @property
    def relay_closed(self) -> bool:
        """Without ``require_keepalive`` always; else only while every keep-alive frame is
        fresh: 0x1D4 and 0x1F2 within 0.2 s, 0x50B and 0x50C within 0.5 s."""
        if not self.require_keepalive:
            return True
        now = time.monotonic()
        seen = self.vcm_seen
        return all(now - seen.get(i, float("-inf")) < t for i, t in VCM_TIMEOUTS.items())

    # -- broadcast -------------------------------------------------------------------------
    def frames(self, tick: int) -> list[tuple[int, bytes]]:
        """The frames due at 10 ms tick ``tick``."""
        b = self.battery
        prun = tick % 4
        cells = b.cell_voltages()
        voltage, current = sum(cells), b.effective_current(time.time())
        full, empty = b.soc_pct >= 100.0, b.soc_pct <= 0.0
        status = encode_frame(STATUS, {
            "current": current if self.relay_closed else 0.0, "voltage": voltage,
            "main_relay_on": int(self.relay_closed), "interlock": 1,
            "full_charge": int(full), "usable_soc": int(b.soc_pct), "prun": prun,
        })  # fmt: skip
        if self.corrupt_rate and self._rng.random() < self.corrupt_rate:
            status = status[:7] + bytes([status[7] ^ 0x5A])
        out = [(STATUS, status)]
        out.append((LIMITS, encode_frame(LIMITS, {
            "discharge_power_limit_kw": 0.0 if empty else DISCHARGE_KW,
            "charge_power_limit_kw": 0.0 if full else CHARGE_KW,
            "max_power_for_charger_kw": 92.3, "prun": prun,  # 0x3FF: not available
        })))  # fmt: skip
        if tick % 10 == 0:
            slow = tick // 10
            out.append((SOC, encode_frame(SOC, {"soc": b.soc_pct, "capacity_empty": int(empty),
                                                "prun": slow % 4})))  # fmt: skip
            max_gids = b.capacity_ah * 360 / WH_PER_GID  # ~360 V nominal (30 kWh at 82 Ah)
            gids = max_gids * b.soc_pct / 100
            mux = slow % 2
            out.append((ENERGY, encode_frame(ENERGY, {
                "gids": max_gids if mux else gids, "max_gids_flag": mux, "soh": 100,
            })))  # fmt: skip
        if tick % 50 == 0:
            mux = tick // 50 % 3 + 1
            temp = b.temperature_c + {1: 1.0, 2: 0.5, 3: 0.0}[mux]
            out.append((HISTORY, encode_frame(HISTORY, {"mux": mux, "temperature": temp})))
        return out

    async def _broadcast(self) -> None:
        start, tick = time.monotonic(), 0
        while True:
            self.battery.advance()
            await self.link.send_all(self.frames(tick))
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))

    # -- diagnostic server -----------------------------------------------------------------
    async def _serve(self) -> None:
        while True:
            frame = await self.link.recv(1.0)
            if frame is not None and frame[0] in VCM_TIMEOUTS:
                if ka.valid(*frame):
                    self.vcm_seen[frame[0]] = time.monotonic()
                else:
                    self.bad_vcm_frames += 1
                continue
            if frame is None or frame[0] != REQUEST or not frame[1]:
                continue
            data = frame[1]
            if kind(data) == FLOW:
                self._fc.put_nowait(data)
            elif len(data) >= 3 and data[0] == 0x02 and data[1] == 0x21:
                if self._transfer is not None and not self._transfer.done():
                    self.dropped_requests += 1  # busy answering: the LBC drops it
                    continue
                self._transfer = asyncio.create_task(self._reply(data[2]))

    async def _reply(self, group: int) -> None:
        while not self._fc.empty():
            self._fc.get_nowait()
        payload = group_payload(self.battery, group)
        if payload is None:
            await self.link.send(REPLY, NEGATIVE_RESPONSE)
            return
        frames = segment(payload)
        await self.link.send(REPLY, frames[0])
        index = 1
        while index < len(frames):
            try:
                async with asyncio.timeout(FC_TIMEOUT_S):
                    raw = await self._fc.get()
            except TimeoutError:
                self.aborted += 1
                return
            self.flow_controls.append(raw)
            fc = parse_flow_control(raw)
            if fc is None or fc.flag == 2:
                self.aborted += 1
                return
            if fc.flag == 1:  # wait
                continue
            burst = fc.block_size or len(frames)
            for _ in range(burst):
                if index >= len(frames):
                    break
                await self.link.send(REPLY, frames[index])
                index += 1
                if fc.st_min_s:
                    await asyncio.sleep(fc.st_min_s)
        self.replies += 1


async def run_leaf_battery(
    name: str,
    battery: SimBattery,
    link: CanLink,
    corrupt_rate: float = 0.0,
    sim: LeafPackSim | None = None,
) -> None:
    """The simulated pack on ``link``'s bus until cancelled (``sim``: one built already)."""
    sim = sim or LeafPackSim(battery, link, corrupt_rate)
    try:
        await sim.run()
    finally:
        log.debug("%s: LEAF sim stopped after %d replies", name, sim.replies)
