"""OpenDTU inverter over real HTTP on loopback against the simulator: form bodies, basic auth,
``type: success``, real captured answers, and faults."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest

from batmux.netzero.device_config import InverterEntry
from batmux.netzero.devices import DtuInverter, build_inverter
from batmux.netzero.devices.opendtu import parse_status
from batmux.netzero.ports import DeviceStatus
from batmux.sim.hoymiles import HoymilesModel
from batmux.sim.opendtu import OpenDtuSim
from netzero.nz_helpers import JumpClock, until

CAPTURES = Path(__file__).parent / "captures"
SERIAL = "114190641177"


@dataclass
class Rig:
    clock: JumpClock
    model: HoymilesModel
    sim: OpenDtuSim
    inverter: DtuInverter

    def posts(self) -> list[tuple[str, dict]]:
        out = []
        for d in self.sim.details:
            if d.method == "POST":
                (data,) = parse_qs(d.body)["data"]
                out.append((d.path, json.loads(data)))
        return out


async def make_rig(session: aiohttp.ClientSession, password: str = "secret") -> Rig:
    clock = JumpClock()
    model = HoymilesModel(max_power_w=800, limit_delay_s=4.0, producing=False)
    sim = OpenDtuSim({SERIAL: model}, clock, password="secret")
    url = await sim.start()
    entry = InverterEntry(type="opendtu", url=url, serial=SERIAL, max_power=800, password=password)
    inverter = build_inverter(
        entry, config_dir=Path("."), clock=clock, session=session, timeout_s=0.2
    )
    assert isinstance(inverter, DtuInverter)
    return Rig(clock, model, sim, inverter)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with aiohttp.ClientSession() as session:
        rig = await make_rig(session)
        yield rig
        await rig.sim.stop()


@pytest.mark.parametrize(
    "name", ["opendtu_livedata_status_issue1741.json", "opendtu_livedata_status_hze114.json"]
)
def test_parses_real_opendtu_answers(name: str) -> None:
    capture = json.loads((CAPTURES / name).read_text())
    reading = parse_status(capture["response"], capture["serial"])
    expected = capture["expected"]
    assert (reading.on, reading.limit_pct, reading.power_w, reading.offline) == (
        expected["on"],
        expected["limit_pct"],
        expected["power_w"],
        expected["offline"],
    )


async def test_sim_answers_the_real_shape(rig: Rig) -> None:
    real = json.loads((CAPTURES / "opendtu_livedata_status_hze114.json").read_text())["response"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rig.sim.url}/api/livedata/status?inv={SERIAL}") as r:
            ours = await r.json()
        async with session.get(f"{rig.sim.url}/api/livedata/status") as r:
            common = await r.json()
    real_inv, our_inv = real["inverters"][0], ours["inverters"][0]
    assert set(real_inv) - {"AC"} <= set(our_inv) and "AC" in our_inv
    assert set(real_inv["AC"]["0"]["Power"]) == set(our_inv["AC"]["0"]["Power"]) == {"v", "u", "d"}
    assert "AC" not in common["inverters"][0]  # like OpenDTU v24 without ?inv= (issue 1741)


async def test_requests_are_forms_with_basic_auth_and_serial_strings(rig: Rig) -> None:
    rig.inverter.request(200)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 40)
        loop.cancel()
    assert rig.posts()[:2] == [
        ("/api/limit/config", {"serial": SERIAL, "limit_type": 1, "limit_value": 25.0}),
        ("/api/power/config", {"serial": SERIAL, "power": True}),
    ]
    posts = [d for d in rig.sim.details if d.method == "POST"]
    auth = "Basic " + base64.b64encode(b"admin:secret").decode()
    assert all(d.content_type == "application/x-www-form-urlencoded" for d in posts)
    assert all(d.authorization == auth for d in posts)
    assert posts[0].body.startswith("data=")
    gets = {d.path for d in rig.sim.details if d.method == "GET"}
    assert gets == {f"/api/livedata/status?inv={SERIAL}"}
    assert rig.inverter.state().limit_w == 200


async def test_restart_after_a_failed_switch_on(rig: Rig) -> None:
    rig.sim.stuck_off.add(SERIAL)
    rig.inverter.request(400)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 120)
        loop.cancel()
    assert [body for _, body in rig.posts()][1:3] == [
        {"serial": SERIAL, "power": True},
        {"serial": SERIAL, "restart": True},
    ]


async def test_wrong_password_is_a_fault_with_one_line() -> None:
    async with aiohttp.ClientSession() as session:
        rig = await make_rig(session, password="wrong")
        rig.model.producing = True
        rig.inverter.request(0)
        await rig.inverter.step()
        await rig.sim.stop()
    state = rig.inverter.state()
    assert state.status == DeviceStatus.FAULT
    assert state.error.startswith("off failed 3×: POST") and state.error.endswith("HTTP 401")


async def test_refused_command_is_retried_and_unreachable_inverter_is_offline(rig: Rig) -> None:
    rig.model.producing = True
    rig.sim.refuse_next = 2
    rig.inverter.request(0)
    await rig.inverter.step()
    assert [path for path, _ in rig.posts()] == ["/api/power/config"] * 3
    assert not rig.model.producing
    rig.model.reachable = False
    rig.clock.t += 2
    await rig.inverter.step()
    state = rig.inverter.state()
    assert (
        state.status == DeviceStatus.OFFLINE and state.error == "the DTU cannot reach the inverter"
    )


async def test_garbage_then_recovery(rig: Rig) -> None:
    rig.sim.garbage = True
    await rig.inverter.step()
    assert rig.inverter.state().status == DeviceStatus.FAULT
    assert "not JSON" in rig.inverter.state().error
    rig.sim.garbage = False
    rig.clock.t += 2
    await rig.inverter.step()
    assert rig.inverter.state().status == DeviceStatus.OFF and rig.inverter.state().error == ""
