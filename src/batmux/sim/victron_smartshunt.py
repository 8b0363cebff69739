"""A simulated SmartShunt: PIN-guarded GATT reads and encrypted Instant Readout payloads,
both encoded from ``battery.truth()`` through the real codec."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from batmux.devices.victron_smartshunt import VictronSmartShuntDriver
from batmux.errors import LinkError
from batmux.links.ble import PairingFailed
from batmux.model.sample import BatterySample
from batmux.protocols import victron_gatt as vg
from batmux.protocols import victron_smartshunt as vs
from batmux.sim.battery import SimBattery
from batmux.sim.peripheral import CharSpec, SimDevice, SimPeripheral

SIM_KEY = bytes.fromhex("0df0ad8badf00dd00dfeedc0ffee1234")


def shunt_values(truth: BatterySample) -> dict[str, float | None]:
    """What a shunt measures of the pack: no cells, consumed Ah counted down from full."""
    consumed = None
    if truth.capacity_ah is not None and truth.charge_ah is not None:
        consumed = round(truth.charge_ah - truth.capacity_ah, 1)
    return {
        "voltage": truth.voltage_v,
        "current": truth.current_a,
        "power": truth.power_w,
        "soc": truth.soc_pct,
        "consumed_ah": consumed,
    }


class VictronSimDevice(SimDevice):
    notify_uuid = VictronSmartShuntDriver.spec.notify_uuid
    write_uuid = VictronSmartShuntDriver.spec.write_uuid
    # the access column of the published table: values Read/Notify, keep-alive Write/Read
    characteristics = (
        *(CharSpec(g.uuid, ("read", "notify")) for g in vg.GATT_VALUES),
        CharSpec(vg.gatt_uuid(vg.REG_KEEP_ALIVE), ("read", "write")),
    )

    def __init__(self, battery: SimBattery, pin: str | None = None, key: bytes = SIM_KEY) -> None:
        super().__init__(battery)
        self.pin = pin  # None: no bond needed
        self.key = key
        self.paired = pin is None
        self.keep_alive_ms: int | None = None
        self._counter = 0

    def pair(self, pin: str) -> None:
        self.paired = self.pin is None or pin == self.pin
        if not self.paired:
            raise PairingFailed("SmartShunt rejected the bond: wrong PIN")

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid == vg.gatt_uuid(vg.REG_KEEP_ALIVE) and len(data) == 2:
            self.keep_alive_ms = int.from_bytes(data, "little")
        return []

    def handle_read(self, char_uuid: str) -> bytes:
        spec = next((g for g in vg.GATT_VALUES if g.uuid == char_uuid), None)
        keep_alive = char_uuid == vg.gatt_uuid(vg.REG_KEEP_ALIVE)
        if spec is None and not keep_alive:
            raise LinkError(f"characteristic {char_uuid} is not readable")
        if not self.paired:
            raise PairingFailed(
                f"read of {spec.name if spec else 'keep-alive'} refused: insufficient "
                "authentication (not bonded, wrong or missing PIN)"
            )
        if spec is None:
            return vg.keep_alive_value(0 if self.keep_alive_ms is None else self.keep_alive_ms)
        return vg.encode_gatt_value(spec, shunt_values(self.battery.truth())[spec.name])

    def advertisement(self) -> bytes:
        """The next Instant Readout payload (company id 0x02E1 not included)."""
        self._counter = (self._counter + 1) & 0xFFFF
        truth = self.battery.truth()
        values = shunt_values(truth)
        sample = BatterySample(
            timestamp=truth.timestamp,
            voltage_v=truth.voltage_v,
            current_a=truth.current_a,
            soc_pct=truth.soc_pct,
            extra={"consumed_ah": values["consumed_ah"] or 0.0},
        )
        return vs.build_advertisement(sample, self.key, self._counter)


class VictronSimPeripheral(SimPeripheral):
    """A ``SimPeripheral`` that can bond, as the SmartShunt needs."""

    device: VictronSimDevice

    async def pair(self, pin: str) -> None:
        self._require()
        await asyncio.sleep(self.latency_s)
        self.device.pair(pin)


async def advertise(
    device: VictronSimDevice,
    feed: Callable[[bytes, int | None], object],
    period_s: float = 1.0,
    rssi: int = -60,
) -> None:
    """Broadcast forever: hand a fresh payload to ``feed`` (e.g. a source's
    ``feed_advertisement``) every ``period_s``; cancel the task to stop."""
    while True:
        feed(device.advertisement(), rssi)
        await asyncio.sleep(period_s)
