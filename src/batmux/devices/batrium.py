"""``type: batrium``: a Batrium WatchMon read from its native CAN broadcast.

    batteries:
      - name: watchmon
        type: batrium
        can: {interface: socketcan, channel: can0}   # 500 kbit/s
        batrium: {base_id: 0x500}                     # the WatchMon's CAN base id

The source is the CAN source with one difference: it keeps the receive flag that says
whether an id was 29-bit, so a standard frame that shares a number with Batrium's ids (another
device on the bus) is not read as Batrium's. ``address: sim`` runs a simulated WatchMon on a
private virtual bus.
"""

from __future__ import annotations

from typing import Any

from batmux.devices.batrium_options import BatriumOptions
from batmux.devices.can_source import CanSource, fresh_s
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.protocols.batrium import BatriumCodec


class BatriumSource(CanSource):
    """``CanSource`` fed with ``(id, data, extended)`` so 11-bit look-alikes are dropped."""

    async def _read(self) -> None:
        await self.link.open()
        self.health.connects += 1
        while True:
            frame = await self.link.recv_flagged(1.0)
            if frame is None:
                continue
            for packed in self.codec.feed(frame):  # type: ignore[arg-type]
                self._latest[frame[0]] = (packed, self._clock())

    def status(self) -> dict[str, object]:
        codec = self.codec
        assert isinstance(codec, BatriumCodec)
        return {**super().status(), "standard_id_frames": codec.standard_frames}


def create_source(battery: Any, context: Any = None) -> BatriumSource:
    """Registry factory for ``type: batrium`` (``can:``, ``batrium.base_id``, ``timeout:``)."""
    options = getattr(battery, "batrium", None) or BatriumOptions()
    codec = BatriumCodec(options.base_id)
    asked = battery.sim is not None or "address" in battery.model_fields_set
    if battery.can is None and battery.is_sim and asked:  # never guess "simulate"
        return _simulated(battery, codec)
    cfg = battery.can or CanBusConfig()
    return BatriumSource(battery.name, codec, CanLink(cfg), fresh_s=fresh_s(battery))


def _simulated(battery: Any, codec: BatriumCodec) -> BatriumSource:
    """The real source on a private virtual bus, with a simulated WatchMon as ``background``."""
    from batmux.sim.batrium import BatriumSimDevice, run_batrium
    from batmux.sim.battery import from_sim_config
    from batmux.sim.bms import run_for

    bus = CanBusConfig(interface="virtual", channel=f"batmux-sim-{battery.name}")
    source = BatriumSource(battery.name, codec, CanLink(bus), fresh_s=fresh_s(battery))
    device = BatriumSimDevice(from_sim_config(battery.sim), base_id=codec.base_id)
    stop_after = battery.sim.stop_after if battery.sim is not None else None

    async def background() -> None:
        await source.link.open()  # listen before the WatchMon's first frame
        await run_for(stop_after, run_batrium(device, CanLink(bus)))

    source.background = background  # type: ignore[attr-defined]
    source.sim_device = device  # type: ignore[attr-defined]
    return source
