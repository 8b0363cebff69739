"""Pylontech low-voltage CAN (Victron, SMA Sunny Island, Deye/Sunsynk, Solis, Growatt ...).

500 kbit/s, 11-bit ids, **little-endian**; the battery sends every frame about once a second.
Real US5000 (vector pylontech_lv_us5000_v1_2_capture):

    0x351  14 02 | C0 12 | C0 12 | C2 01   CVL 53.2 V, CCL 480.0 A, DCL 480.0 A, DVL 45.0 V
    0x355  58 00 | 5E 00                   SoC 88 %, SOH 94 %  (v1.3: + SoC 0.01 % in 4-5)
    0x356  7A 13 | F2 FE | 6B 01           49.86 V, -27.0 A (+ = charging), 36.3 °C
    0x359  00 00 00 00 | 06 | 50 4E        protection / alarm bits, 6 modules, "PN"
    0x35C  C0 00                           charge + discharge enabled
    0x35E  "PYLON   "

Firmware v1.3 drops 0x359/0x35C for 0x35A and 0x35F ("LI", hardware, capacity Ah, software).
0x35A carries 2 bits per alarm/warning, read as a 2-bit number: 0b10 = OK, 0b01 = active,
00/11 = not supported. A healthy BYD LVS sends ``AA AA AA AA AA AA AA AA`` to a Victron GX
(dfch/BydCanProtocol README); new Pylontech firmware sends all zeros.
Victron extras: 0x370/0x371 name, 0x372 module counts, 0x373 min/max cell mV and K,
0x374-0x377 names of those cells, 0x379 installed Ah. The inverter sends 0x305.

Other brands use the same ids with other lengths: BYD LVS sends 0x355 with 8 bytes and zeros
where the 0.01 % SoC would be; Pytes sends a 6-byte 0x35F.

This module is the frame layouts and the decoder (reading a real stack); the encoders and the
state → frames builder used by the inverter emulation and the simulator are
``pylontech_can_encode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample
from batmux.protocols.base import Field, read_table
from batmux.protocols.can_codec import CanCodec, ascii_text

ID_LIMITS, ID_SOC, ID_MEASURE, ID_FLAGS, ID_REQUEST = 0x351, 0x355, 0x356, 0x359, 0x35C
ID_ALARMS, ID_MANUFACTURER, ID_INFO = 0x35A, 0x35E, 0x35F
ID_NAME1, ID_NAME2, ID_MODULES, ID_CELLS = 0x370, 0x371, 0x372, 0x373
ID_INSTALLED = 0x379  # Victron: installed capacity Ah (u16)
ID_CELL_NAMES = (0x374, 0x375, 0x376, 0x377)  # min V, max V, min T, max T cell
ID_KEEPALIVE = 0x305  # inverter → battery

LIMITS = (
    Field("charge_voltage_limit", 0, 2, scale=0.1),
    Field("charge_current_limit", 2, 2, signed=True, scale=0.1),
    Field("discharge_current_limit", 4, 2, signed=True, scale=0.1),
    Field("discharge_voltage_limit", 6, 2, scale=0.1),
)
SOC = (Field("soc", 0, 2), Field("soh", 2, 2), Field("soc_hr", 4, 2, scale=0.01))
MEASURE = (
    Field("voltage", 0, 2, signed=True, scale=0.01),
    Field("current", 2, 2, signed=True, scale=0.1),
    Field("temperature", 4, 2, signed=True, scale=0.1),
)
INFO = (Field("capacity", 4, 2), Field("software", 6, 2))
MODULES = (
    Field("modules_ok", 0, 2),
    Field("modules_blocking_charge", 2, 2),
    Field("modules_blocking_discharge", 4, 2),
    Field("modules_offline", 6, 2),
)
CELLS = (
    Field("cell_min_mv", 0, 2),
    Field("cell_max_mv", 2, 2),
    Field("cell_min_temp_k", 4, 2),
    Field("cell_max_temp_k", 6, 2),
)

# 0x359 bytes 0-3 as one little-endian u32: bit → alarms it carries (first = decoded name).
# Bytes 0-1 are protections (alarms), bytes 2-3 the same items as warnings.
FLAG_BITS: dict[int, tuple[Alarm, ...]] = {
    1: (Alarm.PACK_OVERVOLTAGE, Alarm.CELL_OVERVOLTAGE),
    2: (Alarm.PACK_UNDERVOLTAGE, Alarm.CELL_UNDERVOLTAGE),
    3: (Alarm.DISCHARGE_OVERTEMP, Alarm.CHARGE_OVERTEMP, Alarm.MOS_OVERTEMP),
    4: (Alarm.DISCHARGE_UNDERTEMP, Alarm.CHARGE_UNDERTEMP),
    7: (Alarm.DISCHARGE_OVERCURRENT, Alarm.SHORT_CIRCUIT),
    8: (Alarm.CHARGE_OVERCURRENT,),
    11: (Alarm.BMS_FAULT, Alarm.SENSOR_FAULT),
}
WARNING_SHIFT = 16

# 0x35A items (index i: byte i // 4, bits 2 * (i % 4)); bytes 4-7 repeat them as warnings.
GENERAL_ITEM = 0
ITEMS: dict[int, tuple[Alarm, ...]] = {
    1: (Alarm.PACK_OVERVOLTAGE, Alarm.CELL_OVERVOLTAGE),
    2: (Alarm.PACK_UNDERVOLTAGE, Alarm.CELL_UNDERVOLTAGE),
    3: (Alarm.DISCHARGE_OVERTEMP, Alarm.MOS_OVERTEMP),
    4: (Alarm.DISCHARGE_UNDERTEMP,),
    5: (Alarm.CHARGE_OVERTEMP,),
    6: (Alarm.CHARGE_UNDERTEMP,),
    7: (Alarm.DISCHARGE_OVERCURRENT,),
    8: (Alarm.CHARGE_OVERCURRENT,),
    10: (Alarm.SHORT_CIRCUIT,),
    11: (Alarm.BMS_FAULT, Alarm.SENSOR_FAULT),
    12: (Alarm.CELL_IMBALANCE,),
}
# Victron/SMA: the higher bit of a pair set = OK, the lower = active (diyBMS victron_canbus.cpp
# sends OK as 0b10 per pair; OpenDTU-OnBattery's Pytes decoder reads the low bit as the alarm).
ITEM_OK, ITEM_ACTIVE = 0b10, 0b01
HIRES_SOC_TOLERANCE = 1.0  # % between 0x355's 1 % SoC and its optional 0.01 % SoC

REQ_CHARGE, REQ_DISCHARGE, REQ_FORCE1, REQ_FORCE2, REQ_FULL = 0x80, 0x40, 0x20, 0x10, 0x08


def _decode_items(word: int) -> frozenset[Alarm]:
    active = {ITEMS[i][0] for i in ITEMS if (word >> (2 * i)) & 0b11 == ITEM_ACTIVE}
    if not active and (word >> (2 * GENERAL_ITEM)) & 0b11 == ITEM_ACTIVE:
        active.add(Alarm.BMS_FAULT)
    return frozenset(active)


def _hires_soc(soc: float, hires: float) -> float:
    """The 0.01 % SoC of an 8-byte 0x355 when it agrees with the 1 % SoC; BYD LVS leaves it 0."""
    return hires if abs(hires - soc) <= HIRES_SOC_TOLERANCE else soc


class PylontechCanCodec(CanCodec):
    """Reads a real Pylontech LV stack (v1.2 or v1.3 firmware) from its broadcast frames."""

    name = "pylontech_can"
    min_length: ClassVar[Mapping[int, int]] = {
        ID_LIMITS: 8,
        ID_SOC: 4,
        ID_MEASURE: 6,
        ID_FLAGS: 5,
        ID_REQUEST: 1,
        ID_ALARMS: 8,
        ID_MANUFACTURER: 1,
        ID_INFO: 6,  # Pytes sends 6 bytes: no software version
        ID_NAME1: 1,
        ID_NAME2: 1,
        ID_MODULES: 8,
        ID_CELLS: 8,
        ID_INSTALLED: 2,
        **dict.fromkeys(ID_CELL_NAMES, 1),
    }

    def decode_latest(self, latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
        measure = latest.get(ID_MEASURE)
        if measure is None:
            raise ProtocolError("no 0x356 (voltage/current) frame")
        m = read_table(MEASURE, measure)
        extra: dict[str, float | int | str | bool] = {}
        soc = soh = capacity = None
        if (raw := latest.get(ID_SOC)) is not None:
            s = read_table(SOC[:2], raw)
            soc, soh = s["soc"], s["soh"]
            if len(raw) >= 6:
                soc = _hires_soc(soc, read_table(SOC[2:], raw)["soc_hr"])
        if (raw := latest.get(ID_LIMITS)) is not None:
            extra.update(read_table(LIMITS, raw))
        alarms: set[Alarm] = set()
        warnings: set[Alarm] = set()
        if (raw := latest.get(ID_FLAGS)) is not None:
            bits = int.from_bytes(raw[:4], "little")
            alarms |= {n[0] for b, n in FLAG_BITS.items() if bits >> b & 1}
            warnings |= {n[0] for b, n in FLAG_BITS.items() if bits >> (b + WARNING_SHIFT) & 1}
            extra["module_count"] = raw[4]
        if (raw := latest.get(ID_ALARMS)) is not None:
            alarms |= _decode_items(int.from_bytes(raw[:4], "little"))
            warnings |= _decode_items(int.from_bytes(raw[4:8], "little"))
        charge_enabled = discharge_enabled = None
        if (raw := latest.get(ID_REQUEST)) is not None:
            charge_enabled, discharge_enabled = (
                bool(raw[0] & REQ_CHARGE),
                bool(raw[0] & REQ_DISCHARGE),
            )
            extra["force_charge"] = bool(raw[0] & (REQ_FORCE1 | REQ_FORCE2))
            extra["full_charge_request"] = bool(raw[0] & REQ_FULL)
        if (raw := latest.get(ID_MANUFACTURER)) is not None:
            extra["manufacturer"] = ascii_text(raw)
        if (raw := latest.get(ID_INFO)) is not None:
            capacity = read_table(INFO[:1], raw)["capacity"] or None
            if chemistry := ascii_text(raw[:2]):  # Pytes puts a version here, not text
                extra["chemistry"] = chemistry
            extra["hardware_version"] = f"{raw[2]}.{raw[3]}"
            if len(raw) >= 8:
                extra["software_version"] = int(read_table(INFO[1:], raw)["software"])
        self._victron(latest, extra)
        return BatterySample(
            timestamp=timestamp,
            voltage_v=m["voltage"],
            current_a=m["current"],
            soc_pct=soc,
            soh_pct=soh,
            capacity_ah=capacity,
            temperatures_c=(m["temperature"],),
            charge_enabled=charge_enabled,
            discharge_enabled=discharge_enabled,
            alarms=frozenset(alarms),
            warnings=frozenset(warnings),
            extra=extra,
        )

    @staticmethod
    def _victron(latest: Mapping[int, bytes], extra: dict[str, float | int | str | bool]) -> None:
        if (raw := latest.get(ID_INSTALLED)) is not None:
            extra["installed_capacity_ah"] = int.from_bytes(raw[:2], "little")
        if ID_NAME1 in latest:
            extra["bms_name"] = ascii_text(latest[ID_NAME1] + latest.get(ID_NAME2, b""))
        if (raw := latest.get(ID_MODULES)) is not None:
            extra.update({k: int(v) for k, v in read_table(MODULES, raw).items()})
        if (raw := latest.get(ID_CELLS)) is not None:
            c = read_table(CELLS, raw)
            extra["cell_min"] = c["cell_min_mv"] / 1000
            extra["cell_max"] = c["cell_max_mv"] / 1000
            if c["cell_min_temp_k"]:
                extra["cell_min_temperature"] = round(c["cell_min_temp_k"] - 273.15, 2)
                extra["cell_max_temperature"] = round(c["cell_max_temp_k"] - 273.15, 2)
