"""JBD / Xiaoxiang / Overkill Solar BLE driver: 0x03 basic info, then 0x04 cell voltages."""

from __future__ import annotations

from collections.abc import Callable

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import PolledBleDriver, deadline_in
from batmux.links.ble import uuid16
from batmux.model.sample import BatterySample
from batmux.protocols import jbd


def _reply_to(register: int) -> Callable[[bytes], bool]:
    return lambda frame: frame[1] == register


class JbdDriver(PolledBleDriver):
    spec = BleSpec(
        service_uuid=uuid16(0xFF00),
        notify_uuid=uuid16(0xFF01),
        write_uuid=uuid16(0xFF02),
        # Xiaoxiang app names, Overkill, Supervolt SX, Eco-Worthy DP04S, Chins, Lossigy …
        name_patterns=(
            r"^xiaoxiang",
            r"^SP\d{2}S",
            r"^DP04S",
            r"^SX(1|60)",
            r"^JBD",
            r"^GJ-",
            r"^ECOWORTHY",
            r"^Chins",
            r"^LOSSIGY",
            r"^AP2\dS",
        ),
    )
    switches = ("charge", "discharge")

    async def read_sample(self, timeout: float) -> BatterySample:
        deadline = deadline_in(timeout)
        basic = await self.ask(jbd.request(jbd.REG_BASIC), _reply_to(jbd.REG_BASIC), deadline)
        cells = await self.ask(jbd.request(jbd.REG_CELLS), _reply_to(jbd.REG_CELLS), deadline)
        return self.decode_now(self.codec, basic + cells)

    async def _write_switch(self, switch: str, on: bool) -> None:
        # 0xE1 sets both MOSFETs at once, so read the current state of the other one first.
        deadline = deadline_in(5.0)
        basic = await self.ask(jbd.request(jbd.REG_BASIC), _reply_to(jbd.REG_BASIC), deadline)
        state = self.decode_now(self.codec, basic)
        charge = on if switch == "charge" else bool(state.charge_enabled)
        discharge = on if switch == "discharge" else bool(state.discharge_enabled)
        await self.ask(jbd.switch_request(charge, discharge), _reply_to(jbd.REG_MOSFET), deadline)
