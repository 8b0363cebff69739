"""Nissan LEAF battery (LBC) on EV-CAN: 500 kbit/s, 11-bit ids, Motorola (big-endian) signals.

Broadcast by the pack (layouts: dalathegreat/leaf_can_bus_messages EV-can_*.dbc, Battery-Emulator
NISSAN-LEAF-BATTERY.cpp, OVMS vehicle_nissanleaf; vector nissan_leaf_lbc_samples):

    0x1DB 10 ms   00 24 BE E2 38 00 03 E0   current 11 bit signed ×0.5 A (+ = charging) = 0.5 A,
                                            voltage 10 bit ×0.5 V = 381.5 V, usable SoC 56 %,
                                            failsafe 4, main relay on, PRUN 3, CRC-8 E0
    0x1DC 10 ms   6E 0C 8F FD 05 40 C6 96   discharge 110 kW, charge 50 kW (×0.25 kW), CRC-8 96
    0x55B 100 ms  SoC 10 bit ×0.1 %, ALU answer, capacity-empty flag, CRC-8
    0x5BC 100 ms  43 C0 B4 8C C8 02 5F FF   271 GIDs (or max GIDs when byte 5 bit 4), SOH 100 %
    0x5C0 500 ms  mux (1 max, 2 avg, 3 min) + temperature byte ×0.5 − 40 °C (AZE0)

CRC-8: polynomial 0x85, initial 0, over bytes 0–6, in byte 7 (0x1DB, 0x1DC, 0x55B). A bad CRC
is counted and the frame dropped. Wake-up frames (voltage and GIDs "not available", current
reading +511.5 A) carry no measurement and are dropped as no data (``wakeup_frames``).

Cells and temperatures come from ISO-TP replies of the LBC (request 0x79B ``02 21 GG``, reply
0x7BB ``61 GG …``; the polling is ``nissan_leaf_poll``): group 0x01 (generation by length,
precise SoC, Hx, capacity), 0x02 (96 cell voltages in mV, 198 bytes), 0x04 (temperature
sensors: raw ADC u16 + signed °C byte, raw 0xFFFF = absent).

Generation comes from the battery's own frames only: the group 0x01 reply length (0x29 ZE0,
0x2B AZE0, 0x35 ZE1), the max-GIDs mux of 0x5BC (30/40/62 kWh packs only), then the frames
only the battery sends (0x59E: AZE0 or ZE1; 0x1ED/0x1C2: ZE1). The charger's 0x380/0x5BF do
not count: they share the bus in a car.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from batmux.errors import CorruptFrame, ProtocolError
from batmux.model.sample import BatterySample
from batmux.protocols.can_codec import CanCodec, FrameInput
from batmux.protocols.candump import pack, unpack
from batmux.protocols.isotp import Reassembler
from batmux.protocols.nissan_leaf_frames import (
    CRC_IDS,
    ENERGY,
    HISTORY,
    MIN_LENGTH,
    REPLY,
    REQUEST,
    crc8,
    is_wakeup,
    key,
)
from batmux.protocols.nissan_leaf_sample import build_sample, check_group


class NissanLeafCodec(CanCodec):
    """Feed every frame of the bus in order; decode the newest of each (frame, mux, group)."""

    name = "nissan_leaf"
    min_length = MIN_LENGTH

    def __init__(self) -> None:
        super().__init__()
        self.crc_errors = 0
        self.wakeup_frames = 0
        self.requests_seen = 0
        self._reply = Reassembler()

    def feed(self, chunk: FrameInput) -> list[bytes]:  # type: ignore[override]
        checked = super().feed(chunk)  # parsed, id known, length checked
        if not checked:
            return []
        can_id, data = unpack(checked[0])
        if can_id in CRC_IDS and crc8(data[:7]) != data[7]:
            self.crc_errors += 1
            self.reject(CorruptFrame(f"0x{can_id:03X}: CRC {data[7]:02X} != {crc8(data[:7]):02X}"))
            return []
        if can_id == REQUEST:
            self.requests_seen += 1
            return []
        if can_id == REPLY:
            return self._feed_reply(data)
        if is_wakeup(can_id, data):
            self.wakeup_frames += 1
            return []
        if can_id == ENERGY:
            return [pack((key(ENERGY, data[5] >> 4 & 1), data))]
        if can_id == HISTORY:
            return [pack((key(HISTORY, data[0] >> 6), data))]
        return [pack((can_id, data))]

    def _feed_reply(self, data: bytes) -> list[bytes]:
        try:
            message = self._reply.feed(data)
        except CorruptFrame as exc:
            self.reject(exc)
            return []
        if message is None or len(message) < 2 or message[0] != 0x61:
            return []  # not a group reply (a DTC read, a negative response, ...)
        try:
            check_group(message)
        except CorruptFrame as exc:
            self.reject(exc)
            return []
        return [pack((key(REPLY, message[1]), message))]

    def decode(self, frames: Sequence[bytes], timestamp: float = 0.0) -> BatterySample:
        latest: dict[int, bytes] = {}
        for packed in frames:
            can_id, data = unpack(packed)
            latest[can_id] = data
        return self.decode_latest(latest, timestamp)

    def decode_latest(self, latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
        if not latest:
            raise ProtocolError("no LEAF battery frame")
        return build_sample(latest, timestamp)
