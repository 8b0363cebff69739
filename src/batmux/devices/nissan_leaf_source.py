"""A Nissan LEAF pack as a ``Source``: its broadcast read like any CAN battery, plus LBC polling.

The reader keeps the newest frame per (id, mux, group) and runs an ``LbcPoller``: group
requests on 0x79B every ``poll_interval`` s (default 10 s, 0 = listen only), once the pack's
0x1DB is seen, with the flow control of each reply, backing off while another tool (LeafSpy)
polls. Cells and temperatures (polled) stay valid for three poll rounds; the broadcast for
``timeout`` s. With no fresh 0x1DB (pack voltage and current) there is no sample. Nothing but
the polls and their flow control is sent: the keep-alive frames a pack outside its car needs
are not (yet) sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from batmux.devices.can_source import CanSource, fresh_s
from batmux.errors import NoData
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.protocols.candump import unpack
from batmux.protocols.nissan_leaf import NissanLeafCodec
from batmux.protocols.nissan_leaf_frames import REPLY, REQUEST, STATUS
from batmux.protocols.nissan_leaf_poll import LbcPoller

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 10.0
RECV_SLICE_S = 0.02  # how late a due request may go out


class NissanLeafSource(CanSource):
    def __init__(
        self,
        name: str,
        link: CanLink,
        fresh_s: float = 10.0,
        poller: LbcPoller | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, NissanLeafCodec(), link, fresh_s, clock, wall_clock)
        self.poller = poller or LbcPoller(DEFAULT_POLL_INTERVAL_S)
        self.codec: NissanLeafCodec

    async def _read(self) -> None:
        await self.link.open()
        self.health.connects += 1
        while True:
            if self._pack_seen():  # no requests into a bus without a LEAF on it
                for request in self.poller.poll(self._clock()):
                    await self.link.send(REQUEST, request)
            frame = await self.link.recv(RECV_SLICE_S)
            if frame is None:
                continue
            for answer in self.poller.on_frame(frame[0], frame[1], self._clock()):
                await self.link.send(REQUEST, answer)
            for packed in self.codec.feed(frame):
                self._latest[unpack(packed)[0]] = (packed, self._clock())

    def _pack_seen(self) -> bool:
        status = self._latest.get(STATUS)
        return status is not None and status[1] >= self._clock() - self.fresh_s

    def _fresh_frames(self) -> list[bytes]:
        """Broadcast frames younger than ``fresh_s``, polled replies younger than three rounds;
        ``NoData`` without a fresh 0x1DB (no pack voltage and current, no sample)."""
        now = self._clock()
        if not self._pack_seen():
            raise NoData(f"no 0x1DB from {self.name} in the last {self.fresh_s:g} s")
        polled_s = max(self.fresh_s, 3 * self.poller.interval_s)
        return [
            packed
            for can_id, (packed, at) in self._latest.items()
            if at >= now - (polled_s if can_id >> 8 == REPLY else self.fresh_s)
        ]

    def status(self) -> dict[str, object]:
        return {
            **super().status(),
            "crc_errors": self.codec.crc_errors,
            "wakeup_frames": self.codec.wakeup_frames,
            "lbc_requests": self.poller.requests,
            "lbc_timeouts": self.poller.timeouts,
            "foreign_lbc_requests": self.poller.foreign_requests,
            "polling_paused": self.poller.backing_off(self._clock()),
        }


def _poller(battery: Any) -> LbcPoller:
    interval = getattr(battery, "poll_interval", None)
    return LbcPoller(DEFAULT_POLL_INTERVAL_S if interval is None else float(interval))


def create_source(battery: Any, context: Any = None) -> NissanLeafSource:
    """Registry factory for ``type: nissan_leaf`` (``can:`` as for the other CAN batteries;
    ``address: sim`` without ``can:`` runs a simulated pack on a private virtual bus)."""
    asked = battery.sim is not None or "address" in battery.model_fields_set
    simulated = battery.can is None and battery.is_sim and asked
    if not simulated:
        cfg = battery.can or CanBusConfig()
        source = NissanLeafSource(battery.name, CanLink(cfg), fresh_s(battery), _poller(battery))
    else:
        source = _simulated_source(battery)
    if not (battery.allow_control and battery.contactors is not None):
        return source
    from batmux.devices.leaf_control import LeafControl
    from batmux.devices.tesla_source import controlled

    return controlled(source, battery, context, LeafControl)


def _simulated_source(battery: Any) -> NissanLeafSource:
    import dataclasses

    from batmux.sim.battery import from_sim_config
    from batmux.sim.bms import run_for
    from batmux.sim.nissan_leaf import LeafPackSim, run_leaf_battery

    bus = CanBusConfig(interface="virtual", channel=f"batmux-sim-{battery.name}")
    source = NissanLeafSource(battery.name, CanLink(bus), fresh_s(battery), _poller(battery))
    pack = from_sim_config(battery.sim, cells=96, capacity_ah=82.0)
    if pack.cells != 96:  # a LEAF always has 96 cells in series, whatever ``sim.cells`` says
        pack = dataclasses.replace(pack, cells=96)
    corrupt = battery.sim.corrupt_rate if battery.sim is not None else 0.0
    stop_after = battery.sim.stop_after if battery.sim is not None else None
    # with contactor control the simulated pack is one outside its car: it needs the keep-alive
    needs_keepalive = bool(battery.allow_control and battery.contactors is not None)
    sim = LeafPackSim(pack, CanLink(bus), corrupt, require_keepalive=needs_keepalive)

    async def background() -> None:
        await source.link.open()
        run = run_leaf_battery(battery.name, pack, sim.link, corrupt, sim)
        await run_for(stop_after, run)

    source.background = background  # type: ignore[attr-defined]
    source.simulated_pack = sim  # type: ignore[attr-defined]  # for tests
    return source
