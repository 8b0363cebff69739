"""The BYD Modbus emulator on Modbus RTU over a socat pty pair: the Gen24 simulator's
start-up sequence, and the captured Gen24 idle traffic replayed byte for byte."""

from __future__ import annotations

import asyncio

import serial

from batmux.links.modbus import ModbusLink
from batmux.protocols.base import modbus_crc16
from batmux.protocols.byd_modbus import BydState, startup_write
from batmux.runtime.hub import StateHub
from batmux.sim.gen24 import Gen24Sim
from batmux.sinks.byd_modbus import BydModbusEmulator
from batmux.sinks.inverter_config import BydModbusInverterConfig
from byd_modbus_helpers import good_state, load_vector, socat_pair, state_from_vector


def rtu_config(port: str) -> BydModbusInverterConfig:
    return BydModbusInverterConfig(name="gen24", type="byd_modbus", battery="bank", port=port)


async def test_gen24_startup_over_rtu() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    with socat_pair() as (battery_pty, inverter_pty):
        async with BydModbusEmulator(rtu_config(battery_pty), hub) as emu:
            link = ModbusLink(inverter_pty, 21, baudrate=9600, timeout_s=1.0)
            gen24 = Gen24Sim(link, poll_period_s=0.2, alarm_period_s=0.4, keepalive_period_s=0.6)
            try:
                assert await gen24.run(polls=4)
            finally:
                link.close()
            status = emu.status()
    assert not gen24.errors
    assert [(e.op, e.address) for e in gen24.events[:13]] == [
        ("read", 100), ("read", 102), ("read", 118), ("read", 166), ("read", 100),
        ("read", 200), ("read", 300), ("write", 400), ("read", 300), ("read", 401),
        ("write", 401), ("read", 1000), ("write", 400),
    ]  # fmt: skip
    assert gen24.identity is not None and gen24.identity.manufacturer == "BYD"
    assert gen24.states[0] == BydState.INACTIVE and gen24.states[-1] == BydState.ACTIVE
    assert gen24.samples[-1].soc_pct == 55.5
    assert status["inverter_alive"] and status["state"] == "active"


def transact(port: serial.Serial, request: bytes, reply_len: int) -> bytes:
    port.reset_input_buffer()
    port.write(request)
    return port.read(reply_len)


async def test_idle_capture_replayed_byte_for_byte() -> None:
    """BatteryIdleNoSun.dmslog8: the Gen24's requests, our replies equal the real pack's."""
    data = load_vector("byd_hvm_gen24_idle_rtu.json")
    frames = [bytes.fromhex(f["data"]) for f in data["frames"]]
    for frame in frames:
        assert modbus_crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")
    hub = StateHub()
    hub.publish([state_from_vector(data["expected"]["block_300_idle_standby"])])
    with socat_pair() as (battery_pty, inverter_pty):
        async with BydModbusEmulator(rtu_config(battery_pty), hub) as emu:
            # what the Gen24 wrote before the capture starts: start-up block, then standby
            assert emu.emu.apply_write(400, startup_write(0), 0.0)
            assert emu.emu.apply_write(400, [0], 0.0)
            port = serial.Serial(inverter_pty, 9600, timeout=2.0)
            try:
                for request, expected in zip(frames[0::2], frames[1::2], strict=True):
                    reply = await asyncio.to_thread(transact, port, request, len(expected))
                    assert reply == expected, (request.hex(), reply.hex(), expected.hex())
                # a request for another unit on the same RS485 line gets no answer
                other = bytes.fromhex("1c03012c0018")
                other += modbus_crc16(other).to_bytes(2, "little")
                port.timeout = 0.3
                assert await asyncio.to_thread(transact, port, other, 53) == b""
                # an undefined register: exception 2 in a valid RTU frame
                bad = bytes.fromhex("150300fa0001")
                bad += modbus_crc16(bad).to_bytes(2, "little")
                port.timeout = 2.0
                reply = await asyncio.to_thread(transact, port, bad, 5)
                assert reply[:3] == bytes([0x15, 0x83, 0x02])
            finally:
                port.close()
        assert emu.emu.command[1] == 0x00FF  # the toggle write was kept
