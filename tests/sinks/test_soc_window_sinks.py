"""The SoC window in the actual bytes each inverter sink serves: BYD Modbus registers, BYD CAN
and Pylontech CAN frames, plus the status keys. Window 10-90 % unless said otherwise."""

from __future__ import annotations

from pymodbus.client import AsyncModbusTcpClient

from batmux.links.can_bus import CanLink
from batmux.model.limits import ChargeLimits
from batmux.protocols import byd_can
from batmux.protocols.pylontech_can_encode import build_frames
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import BydCanInverterSim, PylontechInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.pylontech_can import PylontechCanSink
from byd_modbus_helpers import good_state, tcp_emulator
from sinks.can_bus_helpers import background, channel, state, wait_until

WINDOW = {"min": 10, "max": 90}


# -- BYD Modbus: 52 V, 280 Ah (14560 Wh), CCL 100 A, DCL 150 A ---------------------------------


def modbus(soc: float, **kw: object) -> dict[int, int]:
    hub = StateHub()
    hub.publish([good_state(soc=soc)])
    return tcp_emulator(hub, **kw).registers()


def test_byd_modbus_registers_without_window_unchanged() -> None:
    regs = modbus(50.0)
    assert [regs[a] for a in (202, 203, 303, 304, 305, 306, 307)] == [
        14560, 14560, 5000, 14560, 7280, 7800, 5200,
    ]  # fmt: skip


def test_byd_modbus_registers_through_the_window() -> None:
    # 80 % of 14560 Wh usable = 11648 Wh; real 50 % is half of the window
    regs = modbus(50.0, soc_window=WINDOW)
    assert [regs[a] for a in (202, 303, 304, 305, 306, 307, 323)] == [
        11648, 5000, 11648, 5824, 7800, 5200, 9750,
    ]  # fmt: skip
    assert regs[203] == regs[204] == 14560  # power ratings follow the whole pack
    assert regs[207] == regs[209] == round(14560 * 1.3)
    regs = modbus(30.0, soc_window=WINDOW)  # 20/80 → 25.00 %, 2912 Wh
    assert [regs[a] for a in (303, 304, 305)] == [2500, 11648, 2912]


def test_byd_modbus_ends_of_the_window() -> None:
    low = modbus(5.0, soc_window=WINDOW)
    assert [low[a] for a in (303, 305, 306, 307)] == [0, 0, 0, 5200]  # DCL 0: no discharge
    high = modbus(95.0, soc_window=WINDOW)
    assert [high[a] for a in (303, 305, 306, 307)] == [10000, 11648, 7800, 0]


def test_byd_modbus_status_shows_the_window() -> None:
    hub = StateHub()
    hub.publish([good_state(soc=5.0)])
    status = tcp_emulator(hub, soc_window=WINDOW).status()
    assert status["allowed_discharge_power"] == 0 and status["allowed_charge_power"] == 5200
    assert (status["real_soc"], status["reported_soc"]) == (5.0, 0.0)
    assert status["soc_window_block"] == "soc_window_min"
    assert "soc_window_block" not in tcp_emulator(hub).status()  # no window, no new keys


async def test_byd_modbus_window_over_tcp() -> None:
    hub = StateHub()
    hub.publish([good_state(soc=50.0)])
    async with tcp_emulator(hub, soc_window=WINDOW) as emu:
        assert emu.bound_address is not None
        host, port = emu.bound_address
        client = AsyncModbusTcpClient(host, port=port, timeout=0.3, retries=0)
        assert await client.connect()
        try:
            r = await client.read_holding_registers(300, count=8, device_id=21)
            assert r.registers[3:8] == [5000, 11648, 5824, 7800, 5200]
        finally:
            client.close()


# -- BYD CAN: 212.1 V, 25 Ah, CVL 233.6 V, DVL 160 V, CCL 25.6 A, DCL 30 A -----------------------


def byd_sink(soc: float, **kw: object) -> BydCanSink:
    cfg = BydCanInverterConfig.model_validate(
        {
            "type": "byd_can",
            "battery": "bank",
            "can": channel(),
            "on_inverter_silent": "report",
            **kw,
        }
    )
    hub = StateHub()
    hub.publish([state(soc_pct=soc)])
    return BydCanSink(cfg, hub)


def byd_periodic(sink: BydCanSink) -> dict[int, bytes]:
    st, limits = sink.current()
    assert limits is not None
    return byd_can.build_periodic(st, limits, sink.options)


def test_byd_can_0x150_without_window_unchanged() -> None:
    # SoC 50.00 %, SOH 98.00 %, remaining 12.5 Ah, full 25.0 Ah
    assert byd_periodic(byd_sink(50.0))[0x150] == bytes.fromhex("1388 2648 007D 00FA")


def test_byd_can_frames_through_the_window() -> None:
    sink = byd_sink(50.0, soc_window=WINDOW)
    frames = byd_periodic(sink)
    # SoC 50.00 %, SOH 98.00 % (untouched), remaining 10.0 Ah, full 20.0 Ah (80 % of 25 Ah)
    assert frames[0x150] == bytes.fromhex("1388 2648 0064 00C8")
    assert frames[0x110] == bytes.fromhex("0920 0640 012C 0100")  # limits untouched inside
    st, _ = sink.current()
    init = dict(byd_can.build_init_burst(st, sink.options)[:1])
    assert init[0x250][4:6] == (42).to_bytes(2, "big")  # 20 Ah × 212.1 V = 4.2 kWh (not 5.3)


def test_byd_can_ends_of_the_window() -> None:
    sink = byd_sink(5.0, soc_window=WINDOW)
    frames = byd_periodic(sink)
    assert frames[0x150] == bytes.fromhex("0000 2648 0000 00C8")
    assert frames[0x110] == bytes.fromhex("0920 0640 0000 0100")  # DCL 0 A, CCL 25.6 A
    status = sink.status()
    assert status["limit_reason"] == "soc_window_min" and not status["battery_stale"]
    assert status["discharge_current_limit"] == 0.0 and status["reported_soc"] == 0.0
    sink = byd_sink(92.0, soc_window=WINDOW)
    frames = byd_periodic(sink)
    assert frames[0x150][:2] == (10000).to_bytes(2, "big")
    assert frames[0x110] == bytes.fromhex("0920 0640 012C 0000")  # CCL 0 A
    assert sink.status()["soc_window_block"] == "soc_window_max"


async def test_byd_can_window_on_the_bus() -> None:
    periods = {"limits": 0.05, "states": 0.05, "info": 0.2, "temps": 0.2, "alarm": 0.4}
    sink = byd_sink(5.0, soc_window=WINDOW, periods=periods)
    inverter = BydCanInverterSim(CanLink(sink.cfg.can), period_s=0.05)
    async with background(sink.run()), running(inverter):
        await wait_until(lambda: bool(inverter.frames(0x150)) and bool(inverter.frames(0x110)))
    assert inverter.frames(0x150)[-1].data == bytes.fromhex("0000 2648 0000 00C8")
    assert inverter.frames(0x110)[-1].data[4:6] == bytes(2)


# -- Pylontech CAN: 52.4 V, 100 Ah, CVL 55.2 V, CCL 100 A, DCL 120 A, DVL 46 V; window 10-95 -----

LV = ChargeLimits(55.2, 100.0, 120.0, 46.0)
WINDOW_95 = {"min": 10, "max": 95}


def pylon_sink(soc: float, **kw: object) -> PylontechCanSink:
    cfg = PylontechCanInverterConfig.model_validate(
        {
            "type": "pylontech_can",
            "battery": "bank",
            "can": channel(),
            "period": 0.05,
            "on_inverter_silent": "report",
            **kw,
        }
    )
    hub = StateHub()
    hub.publish([state(limits=LV, voltage_v=52.4, soc_pct=soc, capacity_ah=100.0)])
    return PylontechCanSink(cfg, hub)


def pylon_frames(sink: PylontechCanSink) -> dict[int, bytes]:
    st, limits = sink.current()
    assert limits is not None
    return dict(build_frames(st, limits, sink.options))


def test_pylontech_frames_through_the_window() -> None:
    plain = pylon_frames(pylon_sink(52.5, variant="v1.3"))
    assert plain[0x355] == bytes.fromhex("3400 6200 8214")  # 52 % (round half even), 52.50 %
    assert plain[0x35F][4:6] == (100).to_bytes(2, "little")
    sink = pylon_sink(52.5, variant="v1.3", soc_window=WINDOW_95)
    frames = pylon_frames(sink)
    # 0x355: SoC 50 %, SOH 98 % (untouched), 50.00 %; 0x35F capacity 85 Ah (was 100)
    assert frames[0x355] == bytes.fromhex("3200 6200 8813")
    assert frames[0x35F][4:6] == (85).to_bytes(2, "little")
    assert frames[0x351] == bytes.fromhex("2802 E803 B004 CC01")


def test_pylontech_ends_of_the_window() -> None:
    low = pylon_frames(pylon_sink(10.0, soc_window=WINDOW_95))
    assert low[0x355][:2] == bytes(2)
    assert low[0x351] == bytes.fromhex("2802 E803 0000 CC01")  # DCL 0 A
    assert low[0x35C] == bytes([0x80, 0])  # charge enable only
    sink = pylon_sink(97.0, soc_window=WINDOW_95)
    high = pylon_frames(sink)
    assert high[0x355][:2] == (100).to_bytes(2, "little")
    assert high[0x351] == bytes.fromhex("2802 0000 B004 CC01")  # CCL 0 A
    assert high[0x35C] == bytes([0x40, 0])  # discharge enable only
    assert sink.status()["limit_reason"] == "soc_window_max"


async def test_pylontech_window_on_the_bus() -> None:
    sink = pylon_sink(5.0, soc_window=WINDOW_95)
    inverter = PylontechInverterSim(CanLink(sink.cfg.can), period_s=0.05)
    async with background(sink.run()), running(inverter):
        await wait_until(lambda: bool(inverter.frames(0x355)) and bool(inverter.frames(0x351)))
    assert inverter.frames(0x355)[-1].data[:2] == bytes(2)
    assert inverter.frames(0x351)[-1].data[4:6] == bytes(2)
