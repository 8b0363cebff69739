"""``type: tesla_model3``: a Tesla Model 3/Y pack read from its CAN frames (read-only here).

A real pack: ``can:`` as for the other CAN batteries (500 kbit/s). ``address: sim`` without
``can:``: the simulated pack (``sim/tesla_model3.py``) on a private virtual bus, 96 bricks
(NCA) unless ``sim.cells`` says otherwise (102-108 = LFP). Without a 0x221 keep-alive on the
bus the pack, real or simulated, keeps its contactors open: the reading then shows 0 A and
``contactor: open``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from batmux.devices.can_source import CanSource, fresh_s
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.protocols.tesla_model3 import TeslaModel3Codec

DEFAULT_BRICKS = 96


def create_source(battery: Any, context: Any = None) -> Any:
    """Registry factory ``(BatteryConfig, context) -> Source``; ``context`` is unused."""
    asked = battery.sim is not None or "address" in battery.model_fields_set
    if battery.can is None and battery.is_sim and asked:
        source = _simulated_source(battery)
    else:
        cfg = battery.can or CanBusConfig()
        link = CanLink(cfg)
        source = CanSource(battery.name, TeslaModel3Codec(), link, fresh_s=fresh_s(battery))
    return controlled(source, battery, context)


def controlled(
    source: CanSource, battery: Any, context: Any = None, control_cls: Any = None
) -> Any:
    """With ``allow_control`` and ``contactors:``, the keep-alive sender wraps the source
    (``TeslaControl``, or ``control_cls`` for another pack, e.g. ``LeafControl``)."""
    if not (battery.allow_control and getattr(battery, "contactors", None) is not None):
        return source
    from batmux.core.bank import DEFAULT_LIMITS
    from batmux.devices.tesla_control import TeslaControl

    stale_s = (battery.limits or DEFAULT_LIMITS).stale_after
    watch = inverter_watch(battery, context)
    cls = control_cls or TeslaControl
    control = cls(source, battery.contactors, stale_s=stale_s, inverter_silence=watch)
    if getattr(battery, "relays", None) is not None:
        from batmux.links.relays import RelayOutput, make_backend

        gateway = context.get("gateway") if isinstance(context, dict) else None
        mqtt = gateway.config.mqtt if gateway is not None else None
        backend = make_backend(battery.relays, mqtt=mqtt)
        control.relays = RelayOutput(battery.name, battery.relays, backend)
    pack_sim = getattr(source, "background", None)

    async def background() -> None:
        # the simulated pack is hardware: it outlives the gateway's tasks so that shutdown
        # can watch it open; ``control.close()`` stops it last
        if pack_sim is not None and control.pack_task is None:
            control.pack_task = asyncio.create_task(pack_sim(), name=f"{source.name}-pack")
        async with asyncio.TaskGroup() as tasks:
            for name, loop in control.loops():
                tasks.create_task(loop, name=f"{source.name}-{name}")

    control.background = background  # type: ignore[attr-defined]
    return control


def inverter_watch(battery: Any, context: Any) -> Callable[[], float | None] | None:
    """Seconds the inverter(s) serving this pack have been silent (the least silent one, as
    any talking inverter still controls the power), or None while no such link runs yet."""
    gateway = (context or {}).get("gateway") if isinstance(context, dict) else None
    cfg = battery.contactors
    if gateway is None or cfg.open_on_inverter_silent is None:
        return None
    from batmux.core.contactor_config import serving_inverters

    config = gateway.config
    names = (
        [cfg.inverter]
        if cfg.inverter
        else serving_inverters(battery.name, config.inverters, config.groups)
    )

    def silence() -> float | None:
        ages = [gateway.inverter_silence[n]() for n in names if n in gateway.inverter_silence]
        return min(ages) if ages else None

    return silence


def _simulated_source(battery: Any) -> CanSource:
    from batmux.sim.battery import from_sim_config
    from batmux.sim.bms import run_for
    from batmux.sim.tesla_model3 import TeslaPackSim, run_tesla_pack, tesla_battery

    bus = CanBusConfig(interface="virtual", channel=f"batmux-sim-{battery.name}")
    source = CanSource(battery.name, TeslaModel3Codec(), CanLink(bus), fresh_s=fresh_s(battery))
    sim = battery.sim
    given = sim.model_fields_set if sim is not None else set()
    model = from_sim_config(sim)  # the load profile, SoC and seed of the sim: section
    options: dict[str, Any] = {"soc_pct": model.soc_pct, "current_a": model.current_a,
                               "seed": model.seed}  # fmt: skip
    if "capacity_ah" in given:
        options["capacity_ah"] = model.capacity_ah
    bricks = model.cells if "cells" in given else DEFAULT_BRICKS
    pack = TeslaPackSim(tesla_battery(bricks, **options))
    stop_after = sim.stop_after if sim is not None else None

    async def background() -> None:
        await source.link.open()
        await run_for(stop_after, run_tesla_pack(battery.name, pack, CanLink(bus)))

    source.background = background  # type: ignore[attr-defined]
    source.simulated_pack = pack  # type: ignore[attr-defined]  # for tests and the demo
    return source
