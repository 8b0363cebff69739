"""``type: nissan_leaf`` with ``address: sim``: a simulated LEAF pack broadcasts its frames and
answers LBC polls with ISO-TP on a virtual CAN bus; the real source polls it (flow control
included) and the gateway publishes 96 cells and the temperatures. LeafSpy on the same bus
pauses our polling."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

import can
import pytest

from batmux.config import parse_config
from batmux.devices.nissan_leaf_source import NissanLeafSource
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.protocols.isotp import flow_control
from batmux.protocols.nissan_leaf_frames import REPLY, REQUEST
from batmux.protocols.nissan_leaf_poll import LbcPoller, group_request
from batmux.runtime.app import Gateway
from batmux.runtime.wiring import wire
from batmux.sim.battery import SimBattery
from batmux.sim.nissan_leaf import LeafPackSim


async def _run_gateway(tmp_path: Path, battery: dict[str, Any], until: Any) -> Gateway:
    config = parse_config(
        {"sample_period": 0.3, "publish_period": 0.5, "state_dir": str(tmp_path),
         "batteries": [battery]},
        "leaf.yaml",
    )  # fmt: skip
    gateway = Gateway(config)
    wire(gateway)
    task = asyncio.create_task(gateway.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.1)
            state = gateway.hub.latest(battery["name"])
            if state is not None and state.sample is not None and until(gateway, state.sample):
                break
        return gateway
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_simulated_leaf_through_the_gateway_with_96_cells(tmp_path: Path) -> None:
    battery = {"name": "leaf", "type": "nissan_leaf", "address": "sim", "poll_interval": 1,
               "sim": {"capacity_ah": 82, "soc": 55, "current": -20}}  # fmt: skip
    gateway = await _run_gateway(
        tmp_path, battery, lambda g, s: len(s.cell_voltages_v) == 96 and s.temperatures_c
    )
    state = gateway.hub.latest("leaf")
    assert state is not None and state.sample is not None and state.available
    s = state.sample
    assert len(s.cell_voltages_v) == 96
    assert s.current_a == pytest.approx(-20.0, abs=0.5)  # 0.5 A steps; + = charging
    assert s.soc_pct == pytest.approx(55, abs=0.5)
    assert sum(s.cell_voltages_v) == pytest.approx(s.voltage_v, abs=0.6)  # 0x1DB: 0.5 V steps
    assert s.temperatures_c and all(15 < t < 40 for t in s.temperatures_c)
    assert s.capacity_ah == pytest.approx(82.0)
    assert s.extra["generation"] == "AZE0" and s.extra["pack_kwh"] == 30
    assert s.extra["charge_current_limit"] == pytest.approx(20_000 / s.voltage_v, abs=0.5)
    source = gateway.batteries["leaf"].source
    assert source.health.corrupt_frames == 0
    status = source.status()
    assert status["lbc_requests"] >= 3 and status["lbc_timeouts"] == 0


async def test_bad_crc_frames_are_counted_and_dropped(tmp_path: Path) -> None:
    battery = {"name": "leafcrc", "type": "nissan_leaf", "address": "sim", "poll_interval": 0,
               "sim": {"soc": 40, "current": 5, "corrupt_rate": 0.3}}  # fmt: skip
    gateway = await _run_gateway(
        tmp_path, battery, lambda g, s: g.batteries["leafcrc"].source.codec.crc_errors > 20
    )
    source = gateway.batteries["leafcrc"].source
    assert source.codec.crc_errors > 20
    assert source.health.corrupt_frames > 0
    state = gateway.hub.latest("leafcrc")
    assert state is not None and state.sample is not None
    assert state.sample.current_a == pytest.approx(5.0) and state.sample.soc_pct == 40
    assert state.sample.cell_voltages_v == ()  # listen only: nothing polled


async def _until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_polling_pauses_while_leafspy_polls_and_its_replies_still_decode() -> None:
    bus = CanBusConfig(interface="virtual", channel="leaf-leafspy-test")
    pack = LeafPackSim(SimBattery(cells=96, capacity_ah=82, soc_pct=70), CanLink(bus))
    source = NissanLeafSource("leaf", CanLink(bus), poller=LbcPoller(interval_s=0.3))
    sim = asyncio.create_task(pack.run())
    leafspy = can.Bus(interface="virtual", channel=bus.channel)
    try:
        await source.link.open()
        source._ensure_reader()
        await _until(lambda: pack.replies >= 3)  # we polled groups 1, 2, 4
        assert len((await source.sample()).cell_voltages_v) == 96
        first = [f for f in pack.flow_controls]
        assert first and all(fc == flow_control(1) for fc in first)

        source._latest.clear()
        # LeafSpy asks for the cells (again if the LBC was busy with our last request) and
        # answers the LBC's first frame with its own flow control
        request = can.Message(arbitration_id=REQUEST, data=group_request(0x02),
                              is_extended_id=False)  # fmt: skip
        sent = None
        async with asyncio.timeout(8):
            leafspy.send(request)
            while True:
                msg = await asyncio.to_thread(leafspy.recv, 0.7)
                if sent is None and source.poller.foreign_requests:
                    sent = source.link.frames_sent  # from here on we must stay silent
                if msg is None:
                    leafspy.send(request)
                    continue
                if msg.arbitration_id != REPLY:
                    continue
                if msg.data[:4] == bytes.fromhex("10C66102"):
                    leafspy.send(can.Message(arbitration_id=REQUEST, data=flow_control(0),
                                             is_extended_id=False))  # fmt: skip
                if msg.data[0] == 0x2C:  # consecutive frame 28 of 28: the reply is complete
                    break
        await asyncio.sleep(1.0)  # three of our poll rounds would have passed
        assert source.link.frames_sent == sent, "we sent on 0x79B while LeafSpy polled"
        assert source.poller.foreign_requests >= 1
        assert source.status()["polling_paused"] is True
        sample = await source.sample()
        assert len(sample.cell_voltages_v) == 96  # LeafSpy's reply, read passively
    finally:
        leafspy.shutdown()
        sim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim
        await source.close()


def test_a_leaf_is_simulated_only_when_asked() -> None:
    from batmux.devices.nissan_leaf_source import create_source

    def source(**battery: Any) -> NissanLeafSource:
        config = parse_config({"batteries": [{"name": "leaf", "type": "nissan_leaf", **battery}]})
        return create_source(config.batteries[0])

    assert hasattr(source(address="sim"), "background")
    assert not hasattr(source(), "background")  # no address: the real bus (can0)
    real = source(can={"interface": "virtual", "channel": "x"}, poll_interval=0)
    assert not hasattr(real, "background") and real.poller.interval_s == 0


async def test_no_sample_and_no_polls_without_the_packs_0x1db() -> None:
    from batmux.errors import NoData

    bus = CanBusConfig(interface="virtual", channel="leaf-silent-test")
    source = NissanLeafSource("leaf", CanLink(bus), poller=LbcPoller(interval_s=0.1))
    other = can.Bus(interface="virtual", channel=bus.channel)
    try:
        with pytest.raises(NoData):
            await source.sample()
        # a 0x5BC alone (no voltage/current) makes no sample either
        other.send(can.Message(arbitration_id=0x5BC, data=bytes.fromhex("43C0B48CC8025FFF"),
                               is_extended_id=False))  # fmt: skip
        await asyncio.sleep(0.5)
        with pytest.raises(NoData):
            await source.sample()
        assert source.link.frames_sent == 0  # nothing polled into a bus without a LEAF
    finally:
        other.shutdown()
        await source.close()


async def test_the_simulated_pack_sends_at_the_real_periods_with_counters_and_crcs() -> None:
    from batmux.protocols.nissan_leaf_frames import crc8

    bus = CanBusConfig(interface="virtual", channel="leaf-periods-test")
    pack = LeafPackSim(SimBattery(cells=96, capacity_ah=82, soc_pct=50), CanLink(bus))
    listener = CanLink(bus)
    await listener.open()
    sim = asyncio.create_task(pack.run())
    seen: dict[int, list[bytes]] = {}
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while loop.time() < end:
            frame = await listener.recv(0.1)
            if frame is not None:
                seen.setdefault(frame[0], []).append(frame[1])
    finally:
        sim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim
        await listener.close()
    # 10 ms, 10 ms, 100 ms, 100 ms, 500 ms over 1 s (loose: the machine is shared)
    for can_id, expected in ((0x1DB, 100), (0x1DC, 100), (0x55B, 10), (0x5BC, 10), (0x5C0, 2)):
        assert expected * 0.5 <= len(seen.get(can_id, [])) <= expected * 1.3, hex(can_id)
    for can_id in (0x1DB, 0x1DC, 0x55B):
        frames = seen[can_id]
        assert all(crc8(f[:7]) == f[7] for f in frames)
        pruns = [f[6] & 3 for f in frames]
        assert all((b - a) % 4 == 1 for a, b in itertools.pairwise(pruns))
    muxes = {f[5] >> 4 & 1 for f in seen[0x5BC]}
    assert muxes == {0, 1}  # GIDs and max GIDs take turns


async def test_a_pack_that_needs_the_keepalive_closes_only_while_it_comes() -> None:
    """``require_keepalive``: the relay-on flag of 0x1DB follows the car's keep-alive frames
    (0x1D4 as the shared vector's, Battery-Emulator's, with their CRC; 0x1F2, 0x50B, 0x50C):
    0x1D4 alone is not enough, all four close it, and it drops when they stop."""
    from batmux.protocols import nissan_leaf_keepalive as ka
    from protocols.can_vectors import load

    keepalive = [bytes.fromhex(f["data"]) for f in load("nissan_leaf_lbc_samples")["frames"]
                 if f["id"] == "0x1D4"]  # fmt: skip
    bus = CanBusConfig(interface="virtual", channel="leaf-keepalive-test")
    pack = LeafPackSim(SimBattery(cells=96), CanLink(bus), require_keepalive=True)
    host = CanLink(bus)
    await host.open()
    sim = asyncio.create_task(pack.run())

    async def relay_flag() -> int:
        """The flag of the next 0x1DB sent from now on (older queued frames dropped)."""
        while await host.recv(0.001) is not None:
            pass
        while True:
            frame = await host.recv(1.0)
            if frame is not None and frame[0] == 0x1DB:
                return frame[1][3] >> 5 & 1

    try:
        await asyncio.sleep(0.1)
        assert await relay_flag() == 0
        for i in range(30):  # 0x1D4 alone, every 10 ms
            await host.send(0x1D4, keepalive[i % 4])
            await asyncio.sleep(0.01)
        assert not pack.relay_closed and await relay_flag() == 0
        for tick in range(30):  # the whole keep-alive
            await host.send_all(ka.frames_at(tick))
            await asyncio.sleep(0.01)
        assert pack.relay_closed and await relay_flag() == 1
        assert pack.bad_vcm_frames == 0
        await asyncio.sleep(0.6)  # keep-alive gone
        assert not pack.relay_closed and await relay_flag() == 0
    finally:
        sim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim
        await host.close()


def test_sim_cells_96_is_accepted_for_a_leaf() -> None:
    leaf = {"name": "leaf", "type": "nissan_leaf", "address": "sim", "sim": {"cells": 96}}
    config = parse_config({"batteries": [leaf]})
    assert config.batteries[0].sim is not None and config.batteries[0].sim.cells == 96
