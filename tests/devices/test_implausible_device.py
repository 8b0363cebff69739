"""A BMS whose frames check out but whose values cannot be true: the codec refuses the sample
with a reason, the BLE source does not back off (the link is fine), and the gateway counts it
as implausible without it ever reaching the meters.

The device replays a real JBD capture (shared/vectors/ble/jbd_1: a 5 Ah 4S pack with 4.98 Ah
left) with 100 Ah written into the remaining-charge field and the checksum fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batmux.config import parse_config
from batmux.devices.ble_source import BleSource
from batmux.devices.jbd import JbdDriver
from batmux.errors import ImplausibleSample
from batmux.protocols import jbd
from batmux.runtime.app import Gateway
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import SimDevice, SimPeripheral
from conftest import VECTORS

BASIC, CELLS = (
    bytes.fromhex(f) for f in json.loads((VECTORS / "ble" / "jbd_1.json").read_text())["frames"]
)


def _with_charge(frame: bytes, centi_ah: int) -> bytes:
    data = bytearray(frame)
    data[8:10] = centi_ah.to_bytes(2, "big")
    data[-3:-1] = jbd.checksum(bytes(data[2:-3])).to_bytes(2, "big")
    return bytes(data)


class ReplayJbd(SimDevice):
    """Answers 0x03 / 0x04 with fixed (captured) frames."""

    notify_uuid = JbdDriver.spec.notify_uuid
    write_uuid = JbdDriver.spec.write_uuid

    def __init__(self, basic: bytes) -> None:
        super().__init__(SimBattery(cells=4))
        self.basic = basic

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = jbd.parse_request(data)
        if parsed is None:
            return []
        register = parsed[0]
        return [self.basic] if register == jbd.REG_BASIC else [CELLS]


def source(basic: bytes) -> BleSource:
    link = SimPeripheral(ReplayJbd(basic), latency_s=0.001, chunk_gap_s=0)
    return BleSource("garage", JbdDriver(link, jbd.JbdCodec()), timeout_s=1.0)


async def test_the_real_frame_is_plausible() -> None:
    sample = await source(BASIC).sample()
    assert sample.charge_ah == 4.98 and sample.capacity_ah == 5.0 and sample.soc_pct == 100


async def test_charge_above_capacity_is_refused_without_backoff() -> None:
    src = source(_with_charge(BASIC, 10_000))
    for _ in range(3):
        with pytest.raises(ImplausibleSample, match="remaining charge 100 Ah is above the full"):
            await src.sample()
    assert src.backoff.failures == 0  # asked again at the next period, not seconds later
    assert src.health.samples == 0 and src.health.corrupt_frames == 0


async def test_gateway_counts_it_and_keeps_it_off_the_meters(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "state_dir": str(tmp_path),
            "batteries": [{"name": "garage", "type": "jbd", "address": "AA:BB:CC:DD:EE:FF"}],
        }
    )
    gateway = Gateway(
        cfg, clock=lambda: 1000.0, sources={"garage": source(_with_charge(BASIC, 10_000))}
    )
    runtime = gateway.batteries["garage"]
    assert await gateway.sample_once(runtime) is False
    assert runtime.health.implausible == 1
    assert runtime.health.last_error.startswith("implausible: remaining charge 100 Ah")
    assert runtime.pending == [] and runtime.meters.last_t is None
