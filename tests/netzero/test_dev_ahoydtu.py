"""AhoyDTU inverter over real HTTP on loopback against the simulator: exact requests, the
field's command priority, retries and confirmation waits (simulated clock), and bad answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from batmux.netzero.device_config import InverterEntry
from batmux.netzero.devices import DtuInverter, build_inverter
from batmux.netzero.devices.ahoydtu import parse_inverter
from batmux.netzero.ports import DeviceStatus
from batmux.sim.ahoydtu import AhoyDtuSim
from batmux.sim.hoymiles import HoymilesModel
from netzero.nz_helpers import JumpClock, until

CAPTURES = Path(__file__).parent / "captures"


@dataclass
class Rig:
    clock: JumpClock
    model: HoymilesModel
    sim: AhoyDtuSim
    inverter: DtuInverter

    def ctrl_bodies(self) -> list[dict]:
        return [json.loads(body) for method, path, body in self.sim.requests if path == "/api/ctrl"]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = JumpClock()
    model = HoymilesModel(max_power_w=600, limit_delay_s=4.0, producing=False, limit_percent=100)
    sim = AhoyDtuSim([model], clock)
    url = await sim.start()
    async with aiohttp.ClientSession() as session:
        entry = InverterEntry(type="ahoydtu", url=url, id=0, max_power=600)
        inverter = build_inverter(
            entry, config_dir=Path("."), clock=clock, session=session, timeout_s=0.2
        )
        assert isinstance(inverter, DtuInverter)
        yield Rig(clock, model, sim, inverter)
    await sim.stop()


def test_parses_a_real_ahoydtu_answer() -> None:
    capture = json.loads((CAPTURES / "ahoydtu_inverter_id_issue871.json").read_text())
    reading = parse_inverter(capture["response"])
    expected = capture["expected"]
    assert (reading.on, reading.limit_pct, reading.power_w) == (
        expected["on"],
        expected["limit_pct"],
        expected["power_w"],
    )
    assert not reading.fault and not reading.offline


async def test_sim_answers_the_real_shape(rig: Rig) -> None:
    capture = json.loads((CAPTURES / "ahoydtu_inverter_id_issue871.json").read_text())["response"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{rig.sim.url}/api/inverter/id/0") as r,
    ):
        ours = await r.json()
    assert set(capture) <= set(ours)
    assert len(ours["ch"][0]) >= len(capture["ch"][0]) and ours["ch_name"][0] == "AC"


async def test_switch_on_sends_the_limit_first_then_power_with_exact_bodies(rig: Rig) -> None:
    rig.inverter.request(300)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        took = await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 40)
        loop.cancel()
    assert rig.ctrl_bodies()[:2] == [
        {"id": 0, "cmd": "limit_nonpersistent_relative", "val": 50},
        {"id": 0, "cmd": "power", "val": 1},
    ]
    ctrl = [d for d in rig.sim.details if d.path == "/api/ctrl"]
    assert ctrl[0].method == "POST" and ctrl[0].content_type == "text/plain"
    assert ctrl[0].body == '{"id":0,"cmd":"limit_nonpersistent_relative","val":50}'
    assert {d.path for d in rig.sim.details} == {"/api/inverter/id/0", "/api/ctrl"}
    state = rig.inverter.state()
    assert state.limit_w == 300 and state.power_w == pytest.approx(300, rel=0.05)
    assert took < 10 and rig.inverter.commands_sent == 2


async def test_switch_off_beats_a_pending_power_change(rig: Rig) -> None:
    rig.model.producing = True
    rig.model.limit_delay_s = 1000.0  # the limit never confirms
    rig.inverter.request(120)
    await rig.inverter.step()
    assert rig.ctrl_bodies() == [{"id": 0, "cmd": "limit_nonpersistent_relative", "val": 20}]
    rig.inverter.request(0)  # a lock engages
    rig.clock.t += 1
    await rig.inverter.step()
    assert rig.ctrl_bodies()[-1] == {"id": 0, "cmd": "power", "val": 0}
    rig.clock.t += 2
    await rig.inverter.step()
    assert rig.inverter.state().status == DeviceStatus.OFF and rig.inverter.state().power_w == 0


async def test_limit_waits_30_s_for_confirmation_before_it_is_sent_again(rig: Rig) -> None:
    rig.model.producing = True
    rig.model.limit_delay_s = 1000.0
    rig.inverter.request(300)
    sent_at: list[float] = []
    for _ in range(70):
        before = len(rig.ctrl_bodies())
        await rig.inverter.step()
        if len(rig.ctrl_bodies()) > before:
            sent_at.append(rig.clock.now())
        rig.clock.t += 1
    assert [t - sent_at[0] for t in sent_at] == [0, 30, 60]  # resent when the 30 s wait runs out
    assert rig.inverter.state().error == "limit not confirmed within 30 s"


async def test_lower_limit_overtakes_an_unconfirmed_higher_one(rig: Rig) -> None:
    rig.model.producing = True
    rig.model.limit_delay_s = 1000.0
    rig.inverter.request(300)
    await rig.inverter.step()
    rig.inverter.request(450)  # higher: waits for the pending one
    rig.clock.t += 1
    await rig.inverter.step()
    rig.inverter.request(60)  # lower: goes out at once (less export)
    rig.clock.t += 1
    await rig.inverter.step()
    assert [b["val"] for b in rig.ctrl_bodies()] == [50, 10]


async def test_three_attempts_one_second_apart(rig: Rig) -> None:
    rig.model.producing = True
    rig.sim.refuse_next = 2
    rig.inverter.request(300)
    start = rig.clock.now()
    await rig.inverter.step()
    assert len(rig.ctrl_bodies()) == 3 and rig.clock.now() - start == 2.0
    assert rig.inverter.state().status == DeviceStatus.SYNCING
    rig.sim.refuse_next = 3
    rig.inverter.request(60)
    await rig.inverter.step()
    state = rig.inverter.state()
    assert len(rig.ctrl_bodies()) == 6
    assert (
        state.error.startswith("limit failed 3×: AhoyDTU refused")
        and "ERR_LIMIT_NOT_ACCEPT" in state.error
    )


async def test_failed_switch_on_restarts_then_resends_the_limit(rig: Rig) -> None:
    rig.sim.stuck_off.add(0)  # accepts "power on" but stays off until restarted
    rig.model.limit_percent = 20.0
    rig.inverter.request(300)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        took = await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 120)
        await until(lambda: rig.inverter.state().limit_w == 300, rig.clock, 40)
        loop.cancel()
    cmds = [(b["cmd"], b.get("val")) for b in rig.ctrl_bodies()]
    assert cmds[:3] == [("limit_nonpersistent_relative", 50), ("power", 1), ("restart", None)]
    # the restart put the inverter back to 100 %: the power change is sent again
    assert cmds[3] == ("limit_nonpersistent_relative", 50)
    assert 30 < took < 40


async def test_inverter_that_switches_itself_off_is_a_fault_and_is_switched_on_again(
    rig: Rig,
) -> None:
    rig.inverter.request(300)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 40)
        rig.model.producing = False
        await until(lambda: rig.inverter.state().status == DeviceStatus.FAULT, rig.clock, 5)
        assert rig.inverter.state().error == "inverter switched itself off"
        await until(lambda: rig.inverter.state().status == DeviceStatus.ON, rig.clock, 40)
        loop.cancel()
    assert [b["cmd"] for b in rig.ctrl_bodies()].count("power") == 2


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("http500", DeviceStatus.FAULT, "HTTP 500"),
        ("garbage", DeviceStatus.FAULT, "not JSON"),
        ("hang", DeviceStatus.OFFLINE, "no answer within 0.2 s"),
        ("drop", DeviceStatus.OFFLINE, "Cannot connect"),
        ("status4", DeviceStatus.FAULT, "AhoyDTU status 4"),
    ],
)
async def test_bad_answers_give_one_line_and_the_off_request_wins_when_it_comes_back(
    rig: Rig, fault: str, status: DeviceStatus, error: str
) -> None:
    rig.model.producing = True
    rig.inverter.request(300)
    async with asyncio.TaskGroup() as tg:
        loop = tg.create_task(rig.inverter.run())
        await until(lambda: rig.inverter.state().limit_w == 300, rig.clock, 40)
        if fault == "http500":
            rig.sim.fail_status = 500
        elif fault == "garbage":
            rig.sim.garbage = True
        elif fault == "hang":
            rig.sim.hang_s = 0.3
        elif fault == "drop":
            await rig.sim.drop_off()
        else:
            rig.sim.status_override[0] = 4
        await until(lambda: rig.inverter.state().status == status, rig.clock, 10)
        state = rig.inverter.state()
        assert error in state.error and "\n" not in state.error
        rig.inverter.request(0)  # a lock engages while the DTU misbehaves
        sent = len(rig.ctrl_bodies())
        rig.sim.fail_status, rig.sim.garbage, rig.sim.hang_s = None, False, 0.0
        rig.sim.status_override.clear()
        if fault == "drop":
            await rig.sim.come_back()
        await until(lambda: rig.inverter.state().status == DeviceStatus.OFF, rig.clock, 10)
        loop.cancel()
    if fault != "status4":
        assert rig.ctrl_bodies()[sent:] == [{"id": 0, "cmd": "power", "val": 0}]
    assert not rig.model.producing


async def test_protected_dtu_login_token_and_relogin_after_logout() -> None:
    clock = JumpClock()
    model = HoymilesModel(max_power_w=600, limit_delay_s=4.0, producing=True)
    sim = AhoyDtuSim([model], clock, password="pw")
    url = await sim.start()
    async with aiohttp.ClientSession() as session:
        entry = InverterEntry(type="ahoydtu", url=url, max_power=600, password="pw")
        inverter = build_inverter(entry, config_dir=Path("."), clock=clock, session=session)
        inverter.request(300)
        await inverter.step()
        sim.logout()  # AhoyDTU's logout timeout ran out
        inverter.request(0)
        clock.t += 1
        await inverter.step()
        wrong = build_inverter(
            entry.model_copy(update={"password": "nope"}),
            config_dir=Path("."),
            clock=clock,
            session=session,
        )
        wrong.request(120)
        await wrong.step()
    await sim.stop()
    bodies = [json.loads(b) for _, p, b in sim.requests if p == "/api/ctrl"]
    token1, token2 = "0000000000000001", "0000000000000002"
    assert bodies[:6] == [
        {"auth": "pw"},
        {"id": 0, "cmd": "limit_nonpersistent_relative", "val": 50, "token": token1},
        {"id": 0, "cmd": "power", "val": 0, "token": token1},  # ERR_PROTECTED
        {"auth": "pw"},  # the retry logs in again
        {"id": 0, "cmd": "power", "val": 0, "token": token2},
        {"auth": "nope"},
    ]
    assert not model.producing and inverter.state().error == ""
    state = wrong.state()
    assert state.status == DeviceStatus.FAULT
    assert state.error == "limit failed 3×: AhoyDTU login refused: ERR_AUTH"
