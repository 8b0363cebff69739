"""Issue #11 items 3 and 6: every emulated battery reports its protocol's fault state once the
data is stale, clears it when fresh data returns, shows "not ready" before the first data, and
``on_inverter_silent: stop`` offers 0 A while the inverter is silent. Real parts: python-can's
virtual bus with the simulated inverters, a pymodbus TCP client on loopback. The printed
figures (seconds to the fault state, to recovery) go to docs/robustness.md."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient

from batmux.links.can_bus import CanLink
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState
from batmux.protocols import byd_can
from batmux.protocols import pylontech_can as pylon
from batmux.protocols.byd_modbus import BydState
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import BydCanInverterSim, PylontechInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.pylontech_can import PylontechCanSink
from byd_modbus_helpers import good_state, tcp_emulator
from sinks.can_bus_helpers import Recorder, background, channel, state, wait_until
from sinks.test_pylontech_can_sink import config as pylon_base_config

LV = ChargeLimits(55.2, 100.0, 120.0, 46.0)
STALE_S = 0.3


def lv_state() -> BatteryState:
    return state(limits=LV, voltage_v=52.4, current_a=12.5, soc_pct=71.0)


def pylon_config(**kw: object) -> PylontechCanInverterConfig:
    """The Pylontech sink tests' config with this file's stale bound."""
    return pylon_base_config(**{"stale_after": STALE_S, **kw})


def opendtu_alarms(frames: dict[int, bytes]) -> dict[str, bool]:
    """OpenDTU-OnBattery's Pylontech/Pytes CAN readers (Provider.cpp): 0x359 byte 1 bit 3 =
    BMS internal alarm, 0x35A byte 2 bit 6 = internal failure (the low bit of the pair)."""
    out = {}
    if 0x359 in frames:
        out["bms_internal"] = bool(frames[0x359][1] >> 3 & 1)
    if 0x35A in frames:
        out["internal_failure"] = bool(frames[0x35A][2] >> 6 & 1)
    return out


async def _pylon_fault_cycle(variant: str) -> tuple[float, float]:
    cfg = pylon_config(variant=variant, on_inverter_silent="report")
    hub = StateHub()
    hub.publish([lv_state()])
    inverter = PylontechInverterSim(CanLink(cfg.can), period_s=0.05)
    sink = PylontechCanSink(cfg, hub)
    flag_id = 0x359 if variant == "v1.2" else 0x35A

    def latest() -> dict[int, bytes]:
        return {r.can_id: r.data for r in inverter.received[-12:]}

    async with background(sink.run()), running(inverter):
        await wait_until(lambda: latest().get(0x351, b"")[2:4] == (1000).to_bytes(2, "little"))
        assert opendtu_alarms(latest()) in ({"bms_internal": False}, {"internal_failure": False})
        loop = asyncio.get_running_loop()
        t0 = loop.time()  # the last good state was published just now: the runtime stops here
        await wait_until(lambda: any(opendtu_alarms(latest()).values()), timeout=2.0)
        to_fault = loop.time() - t0
        got = latest()
        assert got[0x351][2:6] == bytes(4)  # 0 A both ways
        sample = inverter.decode("pylontech_can")
        assert "bms_fault" in sample.to_json()["alarms"]  # type: ignore[attr-defined]
        assert flag_id in got and sink.status()["battery_stale"] is True
        hub.publish([lv_state()])
        t1 = loop.time()
        await wait_until(lambda: not any(opendtu_alarms(latest()).values()), timeout=2.0)
        to_recovery = loop.time() - t1
        assert latest()[0x351][2:4] == (1000).to_bytes(2, "little")
    return to_fault, to_recovery


async def test_pylontech_v12_raises_bms_error_flag_on_stale_and_clears() -> None:
    to_fault, to_recovery = await _pylon_fault_cycle("v1.2")
    print(f"pylontech v1.2: fault {to_fault:.3f} s after the last data, clear {to_recovery:.3f} s")
    assert STALE_S - 0.1 <= to_fault < STALE_S + 0.2 and to_recovery < 0.2


async def test_pylontech_v13_raises_internal_failure_on_stale_and_clears() -> None:
    to_fault, to_recovery = await _pylon_fault_cycle("v1.3")
    print(f"pylontech v1.3: fault {to_fault:.3f} s after the last data, clear {to_recovery:.3f} s")
    assert STALE_S - 0.1 <= to_fault < STALE_S + 0.2 and to_recovery < 0.2


async def test_pylontech_not_ready_before_data_is_not_a_fault() -> None:
    cfg = pylon_config(charge_voltage=53.0, on_inverter_silent="report", victron_extras=True)
    hub = StateHub()
    rec = Recorder(cfg.can)
    async with background(rec.run()), background(PylontechCanSink(cfg, hub).run()):
        await wait_until(lambda: bool(rec.of(0x359)))
    frames = {i: d for _, i, d in rec.frames}
    assert frames[0x351][2:6] == bytes(4) and frames[0x35C] == b"\x00\x00"  # 0 A, disabled
    assert opendtu_alarms(frames) == {"bms_internal": False}  # no alarm for "not yet"
    assert frames[0x372] == bytes.fromhex("0000000000000100")  # 0 modules online, 1 offline


async def test_pylontech_stop_while_inverter_silent() -> None:
    cfg = pylon_config(stale_after=30, on_inverter_silent="stop")  # the default
    assert (
        PylontechCanInverterConfig(type="pylontech_can", battery="b").on_inverter_silent == "stop"
    )
    hub = StateHub()
    hub.publish([lv_state()])
    inverter = PylontechInverterSim(CanLink(cfg.can), period_s=0.05)
    inverter.silent = True  # listens, sends no 0x305
    sink = PylontechCanSink(cfg, hub)

    def ccl() -> bytes:
        got = inverter.frames(pylon.ID_LIMITS)
        return got[-1].data[2:4] if got else b""

    async with background(sink.run()), running(inverter):
        await wait_until(lambda: bool(ccl()))
        assert ccl() == bytes(2) and sink.status()["limit_reason"] == "inverter_silent"
        inverter.silent = False
        await wait_until(lambda: ccl() == (1000).to_bytes(2, "little"))
        inverter.silent = True  # silent for longer than inverter_timeout (0.3 s)
        await wait_until(lambda: ccl() == bytes(2), timeout=1.5)
        assert sink.status()["state"] == "inverter_missing"
    sample = inverter.decode("pylontech_can")
    assert sample.alarms == frozenset()  # type: ignore[attr-defined]  # 0 A, not a fault


async def test_byd_can_state_byte_stop_on_stale_and_back() -> None:
    periods = dict(limits=0.05, states=0.05, info=0.05, temps=0.05, alarm=0.2)
    cfg = BydCanInverterConfig.model_validate(dict(
        type="byd_can", battery="bank", can=channel(), periods=periods, inverter_timeout=0.4,
        stale_after=STALE_S))  # fmt: skip
    hub = StateHub()
    hub.publish([state()])
    inverter = BydCanInverterSim(CanLink(cfg.can), period_s=0.05)
    sink = BydCanSink(cfg, hub)

    def info() -> bytes:
        got = inverter.frames(byd_can.BYD.info)
        return got[-1].data if got else b""

    async with background(sink.run()), running(inverter):
        await wait_until(lambda: info()[6:7] == b"\x03")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await wait_until(lambda: info()[6:7] == b"\x02")
        to_fault = loop.time() - t0
        assert inverter.frames(byd_can.BYD.limits)[-1].data[4:8] == bytes(4)  # 0 A both ways
        hub.publish([state()])
        t1 = loop.time()
        await wait_until(lambda: info()[6:7] == b"\x03")
        to_recovery = loop.time() - t1
    print(f"byd_can: state 2 {to_fault:.3f} s after the last data, 3 again {to_recovery:.3f} s")
    assert STALE_S - 0.1 <= to_fault < STALE_S + 0.2 and to_recovery < 0.2


async def test_byd_modbus_fault_by_default_with_a_real_client() -> None:
    hub = StateHub()
    async with tcp_emulator(hub, stale_after_s=STALE_S, on_inverter_silent="stop") as emu:
        assert emu.cfg.fallback == "fault"
        host, port = emu.bound_address  # type: ignore[misc]
        client = AsyncModbusTcpClient(host, port=port, timeout=0.5, retries=0)
        assert await client.connect()

        async def live() -> list[int]:
            reply = await client.read_holding_registers(300, count=12, device_id=21)
            return reply.registers

        try:
            await client.write_register(400, 2, device_id=21)  # the Gen24's "activate"
            regs = await live()  # before the first sample: a real pack's power-up state
            assert regs[0] == BydState.INACTIVE and regs[6:10] == [0, 0, 0, 0]
            hub.publish([good_state()])
            regs = await live()
            assert regs[0] == BydState.ACTIVE and regs[6:8] == [7800, 5200]
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            while (await live())[0] != BydState.FAULT:
                await asyncio.sleep(0.01)
            to_fault = loop.time() - t0
            regs = await live()
            assert regs[6:10] == [0, 0, 0, 0]  # no power allowed, no outer voltage/power
            hub.publish([good_state()])
            t1 = loop.time()
            while (await live())[0] != BydState.ACTIVE:
                await asyncio.sleep(0.01)
            to_recovery = loop.time() - t1
            assert (await live())[6:8] == [7800, 5200]
        finally:
            client.close()
    print(f"byd_modbus: FAULT {to_fault:.3f} s after the last data, ACTIVE {to_recovery:.3f} s")
    assert STALE_S - 0.05 <= to_fault < STALE_S + 0.2 and to_recovery < 0.1
