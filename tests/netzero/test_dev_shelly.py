"""Shelly Gen1/Gen2 switch over real HTTP on loopback against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from batmux.netzero.device_config import ChargerEntry
from batmux.netzero.devices import ShellySwitch, build_charger
from batmux.netzero.ports import DeviceStatus
from batmux.sim.shelly import ShellySim
from netzero.nz_helpers import JumpClock, until

ON = {1: "/relay/0?turn=on&timer=300", 2: "/rpc/Switch.Set?id=0&on=true&toggle_after=300"}
OFF = {1: "/relay/0?turn=off", 2: "/rpc/Switch.Set?id=0&on=false"}
READ = {1: ["/relay/0", "/meter/0"], 2: ["/rpc/Switch.GetStatus?id=0"]}


@dataclass
class Rig:
    gen: int
    clock: JumpClock
    sim: ShellySim
    switch: ShellySwitch

    def paths(self) -> list[str]:
        assert all(method == "GET" for method, _, _ in self.sim.requests)
        return [path for _, path, _ in self.sim.requests]


@pytest.fixture(params=[1, 2])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    clock = JumpClock()
    sim = ShellySim(gen=request.param, relays=1, clock=clock, load_w=480.0)
    url = await sim.start()
    async with aiohttp.ClientSession() as session:
        entry = ChargerEntry(type="shelly", url=url, relay=0, power=500)
        switch = build_charger(entry, clock=clock, session=session, timeout_s=0.2)
        assert isinstance(switch, ShellySwitch)
        yield Rig(request.param, clock, sim, switch)
    await sim.stop()


async def test_detects_the_generation_and_switches_with_its_own_requests(rig: Rig) -> None:
    rig.switch.request(True)
    await rig.switch.step()
    assert rig.paths() == ["/shelly", *READ[rig.gen], ON[rig.gen]]
    assert rig.switch.gen == rig.gen and rig.sim.on == [True]
    rig.clock.t += 2
    await rig.switch.step()
    state = rig.switch.state()
    assert (state.status, state.on, state.power_w, state.error) == (DeviceStatus.ON, True, 480, "")
    rig.switch.request(False)
    await rig.switch.step()
    assert rig.paths()[-1] == OFF[rig.gen] and rig.sim.on == [False]


async def test_safety_timer_is_rearmed_while_on_and_fires_when_the_gateway_stops(rig: Rig) -> None:
    rig.switch.request(True)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.switch.run())
        await until(lambda: rig.clock.now() > 1000 + 300, rig.clock, 400)
        loop.cancel()
    sent = [p for p in rig.paths() if p == ON[rig.gen]]
    assert len(sent) >= 300 / 120 + 1  # at least every 120 s
    assert rig.sim.on == [True]
    remaining = rig.sim.relay_json(0)["timer_remaining"]
    assert 0 < remaining <= 300
    rig.clock.t += remaining + 1  # nobody re-arms it: the relay switches itself off
    assert rig.sim.power_w(0) == 0 and rig.sim.on == [False]


async def test_configured_generation_skips_detection_and_gen1_without_meter() -> None:
    clock = JumpClock()
    sim = ShellySim(gen=1, clock=clock, meter=False)
    url = await sim.start()
    async with aiohttp.ClientSession() as session:
        entry = ChargerEntry(type="shelly", url=url, relay=0, gen=1, power=300)
        switch = build_charger(entry, clock=clock, session=session)
        switch.request(True)
        await switch.step()
        await switch.step()
    await sim.stop()
    assert [p for _, p, _ in sim.requests] == [
        "/relay/0",
        "/meter/0",
        ON[1],
        "/relay/0",  # 404 from /meter once: no meter, not asked again
    ]
    state = switch.state()
    assert (state.status, state.on, state.power_w, state.error) == (DeviceStatus.ON, True, None, "")


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("http500", DeviceStatus.FAULT, "HTTP 500"),
        ("garbage", DeviceStatus.FAULT, "not JSON"),
        ("drop", DeviceStatus.OFFLINE, "Cannot connect"),
    ],
)
async def test_faults_are_one_line_and_off_is_sent_when_it_comes_back(
    rig: Rig, fault: str, status: DeviceStatus, error: str
) -> None:
    rig.switch.request(True)
    await rig.switch.step()
    if fault == "http500":
        rig.sim.fail_status = 500
    elif fault == "garbage":
        rig.sim.garbage = True
    else:
        await rig.sim.drop_off()
    rig.clock.t += 2
    await rig.switch.step()
    state = rig.switch.state()
    assert state.status == status and error in state.error and "\n" not in state.error
    rig.switch.request(False)
    rig.sim.fail_status, rig.sim.garbage = None, False
    if fault == "drop":
        await rig.sim.come_back()
    rig.clock.t += 2
    await rig.switch.step()
    assert rig.paths()[-1] == OFF[rig.gen] and rig.sim.on == [False]
    assert rig.switch.state().status == DeviceStatus.OFF


async def test_a_failing_command_is_tried_three_times_one_second_apart(rig: Rig) -> None:
    rig.sim.refuse_next = 2
    rig.switch.request(True)
    start = rig.clock.now()
    await rig.switch.step()
    assert rig.paths().count(ON[rig.gen]) == 3 and rig.clock.now() - start == 2.0
    assert rig.switch.state().status == DeviceStatus.ON
    rig.sim.refuse_next = 3
    rig.switch.request(False)
    await rig.switch.step()
    state = rig.switch.state()
    assert rig.paths().count(OFF[rig.gen]) == 3 and state.status == DeviceStatus.FAULT
    assert state.error.startswith(f"{OFF[rig.gen]} failed 3×:") and "HTTP 500" in state.error
    rig.clock.t += 2
    await rig.switch.step()  # the next cycle tries again
    assert rig.sim.on == [False] and rig.switch.state().status == DeviceStatus.OFF
