"""The wired simulator's request framing and the wired Daly board's reply sizing."""

from __future__ import annotations

from batmux.protocols import daly, jbd
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.serial_bms import SerialBmsSimulator, WiredDalySimDevice
from ble_sim import battery


class NoPort:
    async def read(self, timeout: float) -> bytes:
        raise AssertionError("not used")

    async def write(self, data: bytes) -> None:
        raise AssertionError("not used")

    async def close(self) -> None:
        pass


def test_requests_are_framed_across_chunks_and_junk_is_dropped() -> None:
    sim = SerialBmsSimulator(JbdSimDevice(battery(cells=4)), NoPort())
    basic, cells = jbd.request(jbd.REG_BASIC), jbd.request(jbd.REG_CELLS)
    assert sim.split(b"\x00AT\r\n" + basic[:3]) == []
    assert sim.split(basic[3:] + cells[:5]) == [basic]
    assert sim.split(cells[5:]) == [cells]


def test_wired_daly_answers_0x40_only_with_replies_sized_to_the_pack() -> None:
    device = WiredDalySimDevice(battery(cells=8))
    assert device.handle_write(device.write_uuid, daly.request(daly.CMD_CELLS, daly.HOST_BLE)) == []
    cells = device.handle_write(device.write_uuid, daly.request(daly.CMD_CELLS, daly.HOST_ALT))
    assert [f[4] for f in cells] == [1, 2, 3]  # 8 cells, 3 per frame (BLE sends all 16)
    temps = device.handle_write(device.write_uuid, daly.request(daly.CMD_TEMPS, daly.HOST_ALT))
    assert [f[4] for f in temps] == [1]
