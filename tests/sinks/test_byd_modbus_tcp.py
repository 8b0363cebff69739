"""The BYD Modbus emulator over Modbus TCP on loopback: a plain pymodbus client and the
Gen24 simulator against the real server."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient

from batmux.links.modbus import ModbusExceptionReply, ModbusLink
from batmux.model.state import BatteryState
from batmux.protocols.byd_modbus import BydState, Identity
from batmux.runtime.hub import StateHub
from batmux.sim.gen24 import Gen24Sim
from byd_modbus_helpers import address, good_state, tcp_emulator


async def client_for(emulator) -> AsyncModbusTcpClient:
    host, port = emulator.bound_address
    client = AsyncModbusTcpClient(host, port=port, timeout=0.3, retries=0)
    assert await client.connect()
    return client


async def test_plain_client_reads_live_registers() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    async with tcp_emulator(hub) as emu:
        client = await client_for(emu)
        try:
            r = await client.read_holding_registers(300, count=24, device_id=21)
            assert r.registers[:12] == [1, 0, 128, 5550, 14560, 8080, 7800, 5200, 0, 0, 520, 1500]
            r = await client.read_holding_registers(100, count=68, device_id=21)
            assert r.registers[:2] == [0x5349, 1] and r.registers[2] == 0x4259
            r = await client.read_holding_registers(200, count=13, device_id=21)
            assert r.registers[2] == 14560 and r.registers[5:7] == [568, 464]
            r = await client.read_holding_registers(1000, count=100, device_id=21)
            assert r.registers == [0] * 100
            # live view: the next read sees the newest hub state, no refresh timer involved
            hub.publish([good_state(soc=12.34)])
            r = await client.read_holding_registers(303, count=1, device_id=21)
            assert r.registers == [1234]
            # 400 = 2 → ACTIVE with outer voltage/power; FC06 works too
            assert not (await client.write_register(400, 2, device_id=21)).isError()
            r = await client.read_holding_registers(300, count=12, device_id=21)
            assert r.registers[0] == BydState.ACTIVE and r.registers[8:10] == [520, 1500]
        finally:
            client.close()
        status = emu.status()
        assert status["state"] == "active" and status["polling"] is True
        assert status["reads"] == 7 and status["writes"] == 1 and status["rejected"] == 0


@pytest.mark.parametrize(
    ("address_", "count"), [(0, 1), (99, 2), (168, 1), (213, 1), (300, 25), (419, 1), (1099, 2)]
)
async def test_undefined_registers_get_illegal_address(address_: int, count: int) -> None:
    hub = StateHub()
    async with tcp_emulator(hub) as emu:
        client = await client_for(emu)
        try:
            r = await client.read_holding_registers(address_, count=count, device_id=21)
            assert r.isError() and r.exception_code == 2
            # the server keeps serving after the exception
            r = await client.read_holding_registers(300, count=1, device_id=21)
            assert not r.isError()
        finally:
            client.close()
        assert emu.status()["rejected"] == 1


async def test_writes_outside_400_418_rejected() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    async with tcp_emulator(hub) as emu:
        client = await client_for(emu)
        try:
            for addr, values in ((300, [3]), (399, [1, 2]), (418, [1, 2]), (100, [0]), (5, [1])):
                r = await client.write_registers(addr, values, device_id=21)
                assert r.isError() and r.exception_code == 2, (addr, values)
            r = await client.write_coil(400, True, device_id=21)
            assert r.isError() and r.exception_code == 1
            r = await client.read_input_registers(300, count=1, device_id=21)
            assert r.isError() and r.exception_code == 1
            r = await client.read_holding_registers(300, count=1, device_id=21)
            assert r.registers == [BydState.INACTIVE]  # nothing changed
            assert not (await client.write_registers(410, [7] * 9, device_id=21)).isError()
            r = await client.read_holding_registers(400, count=19, device_id=21)
            assert r.registers[10:] == [7] * 9
        finally:
            client.close()
        assert emu.status()["rejected"] == 7


async def test_other_unit_ids_get_no_answer() -> None:
    hub = StateHub()
    async with tcp_emulator(hub) as emu:
        link = ModbusLink(address(emu), unit_id=1, timeout_s=0.2)
        try:
            with pytest.raises(TimeoutError):
                await link.read(300, 1)
        finally:
            link.close()
        link = ModbusLink(address(emu), unit_id=21, timeout_s=0.5)
        try:
            assert await link.read(300, 1) == [BydState.INACTIVE]
            with pytest.raises(ModbusExceptionReply) as info:
                await link.read(250, 1)
            assert info.value.exception_code == 2
        finally:
            link.close()


async def test_stale_data_zeroes_power_within_bound_then_recovers() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    async with tcp_emulator(hub, fallback="standby", stale_after_s=0.3) as emu:
        link = ModbusLink(address(emu), 21, timeout_s=0.5)
        try:
            await link.write(400, [2])
            live = await link.read(300, 8)
            assert live[0] == BydState.ACTIVE and live[6:8] == [7800, 5200]
            # the runtime stops publishing: the state ages past the bound → 0 W, STANDBY
            started = time.monotonic()
            while (await link.read(300, 8))[6:8] != [0, 0]:
                await asyncio.sleep(0.02)
            assert time.monotonic() - started < 0.3 + 0.2
            live = await link.read(300, 8)
            assert live[0] == BydState.STANDBY
            assert emu.status()["fail_safe"] is True
            # the battery goes unavailable outright → still 0 W
            hub.publish([BatteryState("bank", False, None)])
            assert (await link.read(306, 2)) == [0, 0]
            # data returns → served again, in the state the inverter last commanded
            hub.publish([good_state()])
            live = await link.read(300, 8)
            assert live[0] == BydState.ACTIVE and live[6:8] == [7800, 5200]
            assert emu.status()["fail_safe"] is False
        finally:
            link.close()


async def test_gen24_startup_sequence_over_tcp() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    async with tcp_emulator(hub, alive_timeout=5) as emu:
        link = ModbusLink(address(emu), 21, timeout_s=0.5)
        gen24 = Gen24Sim(link, poll_period_s=0.05, alarm_period_s=0.2, keepalive_period_s=0.3)
        try:
            assert await gen24.run(polls=10)
        finally:
            link.close()
    steps = [(e.op, e.address, e.count) for e in gen24.events]
    assert steps[:13] == [
        ("read", 100, 2), ("read", 102, 16), ("read", 118, 16), ("read", 166, 2),
        ("read", 100, 68), ("read", 200, 13), ("read", 300, 24), ("write", 400, 9),
        ("read", 300, 24), ("read", 401, 1), ("write", 401, 1), ("read", 1000, 100),
        ("write", 400, 1),
    ]  # fmt: skip
    assert not gen24.errors
    assert gen24.identity == Identity()
    assert gen24.states[:2] == [BydState.INACTIVE, BydState.INACTIVE]
    assert set(gen24.states[2:]) == {BydState.ACTIVE}
    assert gen24.keepalive_toggles >= 2
    toggles = [e.values[0] for e in gen24.events if e.op == "write" and e.address == 401]
    assert toggles[:2] == [0x00FF, 0xFF00]
    last = gen24.samples[-1]
    assert last.soc_pct == 55.5 and last.voltage_v == 52.0 and last.power_w == -1500.0
    assert last.extra["max_charge_power_w"] == 5200
    status = emu.status()
    assert status["inverter_alive"] is True and status["state"] == "active"
    assert status["requests"] == len(gen24.events)
