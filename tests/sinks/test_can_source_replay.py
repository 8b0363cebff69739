"""CAN batteries as sources: live on the virtual bus, from a replayed candump log, and bad input.

(Kept next to the sink tests: the emulation sinks play the real battery here.)
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.devices.can_source import CanSource, create_source
from batmux.devices.registry import get_type, load
from batmux.errors import ControlRefused, DeviceNotFound, NoData
from batmux.links.can_bus import CanLink
from batmux.links.can_config import CanBusConfig
from batmux.links.can_replay import replay
from batmux.model.limits import ChargeLimits
from batmux.protocols.byd_can import BydCanCodec
from batmux.protocols.candump import format_line
from batmux.protocols.pylontech_can import PylontechCanCodec
from batmux.runtime.hub import StateHub
from batmux.sim.can_inverter import BydCanInverterSim, running
from batmux.sinks.byd_can import BydCanSink
from batmux.sinks.can_inverter_config import BydCanInverterConfig, PylontechCanInverterConfig
from batmux.sinks.pylontech_can import PylontechCanSink
from sinks.can_bus_helpers import background, channel, state, wait_until

LV = ChargeLimits(55.2, 100.0, 120.0, 46.0)
US5000_LOG = """\
(1700000000.000000) can0 351#1402C012C012C201
(1700000000.010000) can0 355#58005E00
(1700000000.020000) can0 356#7A13F2FE6B01
(1700000000.030000) can0 359#0000000006504E
garbage line
(1700000000.040000) can0 35C#C000
(1700000000.050000) can0 35E#50594C4F4E202020
(1700000000.060000) can0 356#7A13
(1700000000.300000) can0 356#7A13F2FE6B01
"""


def battery_config(cfg: CanBusConfig, type_: str = "pylontech_can", timeout: float = 1.0):  # type: ignore[no-untyped-def]
    return parse_config(
        {
            "batteries": [
                {
                    "name": "pylon",
                    "type": type_,
                    "address": "can0",
                    "timeout": timeout,
                    "can": cfg.model_dump(),
                }
            ]
        }
    ).batteries[0]


async def test_registry_source_reads_an_emulated_pylontech() -> None:
    cfg = channel()
    hub = StateHub()
    hub.publish(
        [state(limits=LV, voltage_v=52.4, current_a=-8.0, soc_pct=55.0, temperatures_c=(21.0,))]
    )
    sink_cfg = PylontechCanInverterConfig(
        type="pylontech_can",
        battery="bank",
        can=cfg,
        period=0.05,
        variant="v1.3",
        on_inverter_silent="report",  # a batmux source never sends the 0x305 keep-alive
    )
    dtype = get_type("pylontech_can")
    assert dtype.transport == "can" and load(dtype.codec) is PylontechCanCodec  # type: ignore[arg-type]
    source = load(dtype.source)(battery_config(cfg))  # type: ignore[arg-type]
    try:
        with pytest.raises(NoData):
            await source.sample()  # the reader just started: nothing yet
        async with background(PylontechCanSink(sink_cfg, hub).run()):
            await wait_until(lambda: source.codec.unknown_frames + source.health.connects > 0)
            async with asyncio.timeout(2):
                while True:
                    try:
                        sample = await source.sample()
                        break
                    except NoData:
                        await asyncio.sleep(0.02)
        assert sample.voltage_v == 52.4 and sample.current_a == -8.0 and sample.soc_pct == 55.0
        assert sample.extra["charge_current_limit"] == 100.0
        assert source.health.samples == 1
        with pytest.raises(ControlRefused):
            await source.set_switch("charge", False)
    finally:
        await source.close()


async def test_byd_source_needs_the_inverter_on_the_bus() -> None:
    cfg = channel()
    hub = StateHub()
    hub.publish([state()])
    sink_cfg = BydCanInverterConfig(
        type="byd_can",
        battery="bank",
        can=cfg,
        periods={"limits": 0.05, "states": 0.05, "info": 0.05, "temps": 0.05, "alarm": 0.05},
    )
    source = create_source(battery_config(cfg, "byd_can"))
    assert isinstance(source.codec, BydCanCodec)
    inverter = BydCanInverterSim(CanLink(cfg), period_s=0.05)
    try:
        with pytest.raises(NoData):
            await source.sample()
        async with background(BydCanSink(sink_cfg, hub).run()):
            await asyncio.sleep(0.05)
            async with running(inverter):
                await wait_until(lambda: len(inverter.frames(0x1D0)) >= 2)
        sample = await source.sample()
        assert sample.voltage_v == 212.1 and sample.soc_pct == 60.0
        assert sample.extra["manufacturer"] == "BYD"
        assert source.codec.unknown_frames > 0  # the inverter's own 0x091/0x0D1/0x151
    finally:
        await source.close()


async def test_replay_reproduces_a_capture(tmp_path: Path) -> None:
    log = tmp_path / "capture.log"
    log.write_text(US5000_LOG)
    cfg = channel()
    source = CanSource("pylon", PylontechCanCodec(), CanLink(cfg), fresh_s=5)
    try:
        with pytest.raises(NoData):
            await source.sample()
        await asyncio.sleep(0.05)
        async with CanLink(cfg) as bus:
            t0 = asyncio.get_running_loop().time()
            result = await replay(log, bus, speed=2.0)
            took = asyncio.get_running_loop().time() - t0
        assert result.frames == 8 and result.skipped_lines == 1
        assert 0.14 < took < 0.4  # 0.3 s of capture at double speed
        await wait_until(lambda: source.codec.corrupt_frames == 1)
        sample = await source.sample()
        assert sample.voltage_v == 49.86 and sample.current_a == -27.0 and sample.soc_pct == 88
        assert sample.extra["module_count"] == 6
        assert source.status()["corrupt_frames"] == 1
    finally:
        await source.close()


async def test_replay_a_log_the_link_wrote(tmp_path: Path) -> None:
    """What one CanLink logs, replay() plays back frame for frame (python-can bus accepted too)."""
    cfg = channel()
    log = tmp_path / "sent.log"
    async with CanLink(cfg, log) as writer:
        for i in range(5):
            await writer.send(0x351, bytes([i]) * 8)
    lines = log.read_text().splitlines()
    assert lines[0].endswith(f"{cfg.channel} 351#" + "00" * 8)
    listener = CanLink(cfg)
    async with listener:
        import can

        bus = can.Bus(interface="virtual", channel=cfg.channel)
        try:
            result = await replay(log, bus, speed=0)
        finally:
            bus.shutdown()
        got = [await listener.recv(1.0) for _ in range(5)]
    assert result.frames == 5
    assert got == [(0x351, bytes([i]) * 8) for i in range(5)]


async def test_stale_source_data_raises_nodata() -> None:
    cfg = channel()
    source = CanSource("pylon", PylontechCanCodec(), CanLink(cfg), fresh_s=0.1)
    try:
        with pytest.raises(NoData):
            await source.sample()
        await asyncio.sleep(0.05)
        async with CanLink(cfg) as bus:
            await bus.send(0x356, bytes.fromhex("7A13F2FE6B01"))
            await wait_until(lambda: bool(source._latest))
            assert (await source.sample()).voltage_v == 49.86
            await asyncio.sleep(0.15)
            with pytest.raises(NoData):
                await source.sample()
    finally:
        await source.close()


async def test_bad_interface_is_device_not_found() -> None:
    link = CanLink(CanBusConfig(interface="no-such-interface", channel="x"))
    with pytest.raises(DeviceNotFound, match="no-such-interface"):
        await link.open()


def _has_vcan() -> bool:
    try:
        with socket.socket(socket.PF_CAN, socket.SOCK_RAW, socket.CAN_RAW) as s:
            s.bind(("vcan0",))
        return True
    except (OSError, AttributeError):
        return False


@pytest.mark.skipif(
    not _has_vcan(),
    reason="no SocketCAN vcan0 here (needs the vcan kernel "
    "module: modprobe vcan; ip link add vcan0 type vcan; ip link set up vcan0)",
)
async def test_socketcan_roundtrip() -> None:
    cfg = CanBusConfig(interface="socketcan", channel="vcan0")
    async with CanLink(cfg) as a, CanLink(cfg) as b:
        await a.send(0x305, bytes(8))
        assert await b.recv(1.0) == (0x305, bytes(8))


def test_format_line_used_by_logs() -> None:
    assert format_line(0x305, bytes(2), 1.0, "can1") == "(1.000000) can1 305#0000"
