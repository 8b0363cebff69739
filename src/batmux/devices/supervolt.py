"""Supervolt v1 / E&J BMS driver: realtime request, then capacity (skipped when the realtime
reply is the 140-character single-frame variant that already carries the capacities).

Modules that advertise a name starting ``libattU`` send a wrong checksum. The driver turns the
codec's check off for them: from ``name`` if given, else from the name the link found the
device under (``advertised_name``, set by ``BleakLink`` from the scan or BlueZ's cache)."""

from __future__ import annotations

from typing import ClassVar

from batmux.devices.ble_driver import BleSpec
from batmux.devices.ble_request import PolledBleDriver, deadline_in
from batmux.links.ble import BleLink
from batmux.model.sample import BatterySample
from batmux.protocols import supervolt
from batmux.protocols.base import Codec

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_WRITE = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_NOTIFY = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
NO_CHECKSUM_PREFIX = "libattU"  # case-sensitive, as aiobmsble's ej_bms matches it


def _reply(command: int):
    return lambda frame: supervolt.command_of(frame) == command


class SupervoltDriver(PolledBleDriver):
    spec: ClassVar[BleSpec] = BleSpec(
        service_uuid=NUS_SERVICE,
        notify_uuid=NUS_NOTIFY,
        write_uuid=NUS_WRITE,
        # Supervolt v1 ("libatt…", "SV12V…"), Lithtech, Volthium, LiTime, Chins "G-…" packs.
        name_patterns=(
            r"^libatt",
            r"^SV12V",
            r"^L-12V",
            r"^LT-12V-",
            r"^V-12V",
            r"^EJ",
            r"^G-[0-5][2-8]V\d+A[Hh]-",
        ),
        manufacturer_ids=(21320, 33384, 22618),
    )
    codec: supervolt.SupervoltCodec

    def __init__(
        self, link: BleLink, codec: Codec | None = None, allow_control: bool = False, name: str = ""
    ) -> None:
        super().__init__(link, codec or supervolt.SupervoltCodec(), allow_control)
        self.name = name
        self._check_name(name)

    def _check_name(self, name: str | None) -> None:
        # Only ever turns the check off: an explicit codec without it stays without it.
        if name and name.startswith(NO_CHECKSUM_PREFIX):
            self.codec.verify_checksum = False

    async def start(self) -> None:
        self._check_name(self.name or getattr(self.link, "advertised_name", None))
        await super().start()

    async def read_sample(self, timeout: float) -> BatterySample:
        # A corrupt or lost reply asks again (``ask``) instead of costing the whole timeout.
        deadline = deadline_in(timeout)
        frames = await self.ask(
            supervolt.REQUEST_REALTIME, _reply(supervolt.REPLY_REALTIME), deadline
        )
        if len(frames[0]) < supervolt.SINGLE_FRAME_LEN:
            frames += await self.ask(
                supervolt.REQUEST_CAPACITY, _reply(supervolt.REPLY_CAPACITY), deadline
            )
        return self.decode_now(self.codec, frames)
