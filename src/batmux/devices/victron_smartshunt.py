"""Victron SmartShunt, connected mode: PIN-bonded GATT reads of one characteristic per value.

The "third party / GATT service" switch must be on in VictronConnect. The link is bonded with
the device PIN: the driver passes ``pin`` to ``link.pair(pin)`` when the link can pair (the
simulator and ``BleakLink`` can; a ``BleakLink`` built with the pin has bonded on connect already,
so this finds the bond and does nothing).
The shunt drops the link after about a minute without a keep-alive write; one is sent on
connect and then at least every ``KEEP_ALIVE_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import ClassVar, Protocol, runtime_checkable

from batmux.devices.ble_driver import BleDriver, BleSpec
from batmux.errors import LinkTimeout
from batmux.links.ble import BleLink
from batmux.model.sample import BatterySample
from batmux.protocols import victron_gatt as vg
from batmux.protocols import victron_smartshunt as vs
from batmux.protocols.base import Codec

log = logging.getLogger(__name__)

KEEP_ALIVE_MS = 20_000
KEEP_ALIVE_EVERY_S = 10.0


@runtime_checkable
class PairableLink(Protocol):
    async def pair(self, pin: str) -> None: ...


class VictronSmartShuntDriver(BleDriver):
    spec: ClassVar[BleSpec] = BleSpec(
        service_uuid=vg.GATT_BASE.format(0x0000),
        notify_uuid=vg.gatt_uuid(vg.REG_SOC),  # unused: values are read, not notified
        write_uuid=vg.gatt_uuid(vg.REG_KEEP_ALIVE),
        name_patterns=(r"^SmartShunt", r"^Smart ?Shunt", r"^SS\d"),
        manufacturer_ids=(vs.COMPANY_ID,),
    )
    codec: vg.VictronGattCodec

    def __init__(
        self,
        link: BleLink,
        codec: Codec | None = None,
        allow_control: bool = False,
        pin: str | None = None,
    ) -> None:
        # The registry's codec for this type is the advertisement one (for ``batmux decode``);
        # connected mode always reads through the GATT codec.
        if not isinstance(codec, vg.VictronGattCodec):
            codec = vg.VictronGattCodec()
        super().__init__(link, codec, allow_control)
        self.pin = pin
        self._keep_alive_at = 0.0

    async def start(self) -> None:
        """After every connect: bond with the PIN, then the first keep-alive."""
        if self.pin is not None:
            if isinstance(self.link, PairableLink):
                await self.link.pair(self.pin)
            else:
                log.debug("%s: link cannot pair; relying on an existing bond", self.link.address)
        await self._keep_alive(force=True)

    async def _keep_alive(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._keep_alive_at >= KEEP_ALIVE_EVERY_S:
            # The published table lists the keep-alive as Write/Read, not write-without-
            # response: a fixed write command is refused by bluetoothd (NotSupported) when the
            # characteristic lacks that property, so let its declared properties choose.
            await self.send(vg.keep_alive_value(KEEP_ALIVE_MS), response=None)
            self._keep_alive_at = now

    async def _read(self, value: vg.GattValue, timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                raw = await self.link.read(value.uuid)
        except TimeoutError as exc:
            raise LinkTimeout(f"no answer reading {value.name} within {timeout:.1f} s") from exc
        if self.on_raw is not None:
            self.on_raw("rx", vg.gatt_frame(value.register, raw))
        return raw

    async def read_sample(self, timeout: float) -> BatterySample:
        await self._keep_alive()
        frames: list[bytes] = []
        for value in vg.GATT_VALUES:
            raw = await self._read(value, timeout)
            frames += self.codec.feed(vg.gatt_frame(value.register, raw))
        if frames:
            self.last_frame_at = time.monotonic()
        return self.decode_now(self.codec, frames)
