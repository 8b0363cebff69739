"""Tesla Model 3/Y high-voltage pack read from its own CAN frames (X098 pins 15/16, 500 kbit/s).

11-bit ids, Intel signals (tables below, positions as in joshwardell/model3dbc; the facts and
their disagreements are in shared/protocols/can-modbus.md §4.1). Real frame (fl4p/tescan):

    0x132  70 96 | AE FF | 5C 26 | FF 0F   385.12 V, smoothed current raw -82 (DBC ×-0.1 =
                                           8.2 A discharge) → batmux -8.2 A, 4095 = n/a

* current: SmoothBattCurrent. The DBC scales it by -0.1 (Tesla: + = discharge); batmux reads
  the raw value ×0.1, so + = charging. Real frames with a charge time remaining carry
  positive raw values. The raw current (offset 500 or 822 by firmware) is not used.
* SoC: 0x292 SOCUI (what the car shows, what Battery-Emulator reports); SOCave when SOCUI is
  out of range; the 0x352 energy ratio when there is no 0x292. 2025 firmware may show another
  SoC (0x352 mux 2, layout unknown): ``soc_min``/``soc_max``/``soc_ave`` stay in the extras.
* bricks: 0x401, byte 0 = mux m, byte 1 = status (bit 2k+1 set = cell k of the frame present:
  0x2A three, 0x02 one, 0x00 none), cells 3m..3m+2 ×0.1 mV. Reported once the end of the scan
  (an empty mux, a short last frame, or mux 35) and every brick before it are known; 96 =
  NCA/NCM, 102-108 = LFP.
* limits: 0x252 max regen / discharge power (kW) become ``charge_current_limit`` /
  ``discharge_current_limit`` (A) at the pack voltage, which the limits engine obeys. 0x2D2's
  voltages/currents are kept as ``bms_*`` extras only (wrong scale on recent firmware).
* ``contactor``: open | precharge | closing | closed | opening | fault | welded, from 0x212
  BMS_contactorState and 0x20A HVP contactor states (precharge and welds are only in 0x20A).
  ``charge_enabled``/``discharge_enabled`` = contactor closed (unknown without 0x212/0x20A),
  so the limits go to 0 A while the pack is open.

Multiplexed ids (0x332, 0x352, 0x320, 0x401) are kept per (id, mux): ``frame_key``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import ClassVar

from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.can_codec import CanCodec
from batmux.protocols.tesla_alerts import (
    ID_ALERTS,
    ISOLATION_ALERTS,
    WELD_ALERTS,
    active_alerts,
    alert_alarms,
)
from batmux.protocols.tesla_signals import Signal, read_signals

ID_AMP_VOLT, ID_SOC, ID_MINMAX, ID_BRICKS = 0x132, 0x292, 0x332, 0x401
ID_STATUS, ID_HVP, ID_POWER, ID_ENERGY = 0x212, 0x20A, 0x252, 0x352
ID_VA_LIMITS, ID_THERMAL, ID_TOTALS = 0x2D2, 0x312, 0x3D2

AMP_VOLT = (
    Signal("voltage", 0, 16, 0.01),
    Signal("current", 16, 16, 0.1, signed=True),  # DBC ×-0.1 (+ = discharge), negated here
    Signal("charge_time_remaining_min", 48, 12),
)
SOC = (
    Signal("soc_min", 0, 10, 0.1),
    Signal("soc_ui", 10, 10, 0.1),
    Signal("soc_max", 20, 10, 0.1),
    Signal("soc_ave", 30, 10, 0.1),
    Signal("energy_bol_kwh", 40, 10, 0.1),
)
BRICK_MINMAX = (  # 0x332 mux 1
    Signal("cell_max", 2, 12, 0.002),
    Signal("cell_min", 16, 12, 0.002),
    Signal("cell_max_id", 32, 7, offset=1),
    Signal("cell_min_id", 40, 7, offset=1),
)
TEMP_MINMAX = (  # 0x332 mux 0
    Signal("temperature_max", 16, 8, 0.5, -40),
    Signal("temperature_min", 24, 8, 0.5, -40),
)
STATUS = (
    Signal("bms_contactor_state", 8, 3),
    Signal("hv_state", 16, 3),
    Signal("isolation_kohm", 19, 10, 10),
    Signal("bms_state", 32, 4),
    Signal("charge_power_available_kw", 40, 11, 0.125),
    Signal("min_pack_temperature", 56, 8, 0.5, -40),
)
HVP = (
    Signal("neg_contactor", 0, 3),
    Signal("pos_contactor", 3, 3),
    Signal("contactor_set_state", 8, 4),
    Signal("closing_allowed", 35, 1),
    Signal("hvil_status", 40, 4),
)
POWER = (
    Signal("max_charge_power_kw", 0, 16, 0.01),  # BMS_maxRegenPower
    Signal("max_discharge_power_kw", 16, 16, 0.01),
)
ENERGY_OLD = (  # before ~2021: no mux
    Signal("energy_full_kwh", 0, 11, 0.1),
    Signal("energy_remaining_kwh", 11, 11, 0.1),
)
ENERGY_M0 = (  # 2021+: mux 0|2
    Signal("energy_full_kwh", 16, 16, 0.02),
    Signal("energy_remaining_kwh", 32, 16, 0.02),
)
VA_LIMITS = (
    Signal("bms_min_voltage", 0, 16, 0.01),
    Signal("bms_max_voltage", 16, 16, 0.01),
    Signal("bms_max_charge_current", 32, 14, 0.1),
    Signal("bms_max_discharge_current", 48, 14, 0.128),
)
THERMAL = (
    Signal("pack_temperature_min", 44, 9, 0.25, -25),
    Signal("pack_temperature_max", 53, 9, 0.25, -25),
)
TOTALS = (
    Signal("discharged_kwh_total", 0, 32, 0.001),
    Signal("charged_kwh_total", 32, 32, 0.001),
)

MUX_BITS = {ID_MINMAX: 0x03, ID_ENERGY: 0x03, ID_ALERTS: 0x0F, ID_BRICKS: 0xFF}
BRICK_MUXES = 36  # 108 bricks
LFP_MIN_BRICKS = 102  # Battery-Emulator: more than 101 bricks = LFP
MAX_PACK_KWH = 110.0  # above any Model 3/Y pack: an "old layout" reading beyond it is not one
NOMINAL_BRICK_V = {"NCA/NCM": 3.6, "LFP": 3.2}

# 0x212 BMS_contactorState: 0 SNA 1 OPEN 2 OPENING 3 CLOSING 4 CLOSED 5 WELDED 6 BLOCKED
BMS_CONTACTOR = {1: "open", 2: "opening", 3: "closing", 4: "closed", 5: "welded", 6: "fault"}
# 0x20A HVP_packContactorSetState: 1 OPEN 2 CLOSING 3 BLOCKED 4 OPENING 5 CLOSED 6 PARTIAL_WELD
# 7 WELDED 8 POSITIVE_CLOSED 9 NEGATIVE_CLOSED
HVP_SET_STATE = {1: "open", 2: "closing", 3: "fault", 4: "opening", 5: "closed", 6: "welded",
                 7: "welded", 8: "closing", 9: "closing"}  # fmt: skip
CONTACTOR_PRECHARGE, CONTACTOR_WELDED = 2, 7  # HVP_packCont{Positive,Negative}State
BMS_STATE_FAULT = 6
BMS_STATES = ("standby", "drive", "support", "charge", "feim", "clear_fault", "fault", "weld",
              "test", "sna", "diag")  # fmt: skip
HVIL = ("unknown", "ok", "current_source_fault", "internal_open_fault", "vehicle_open_fault",
        "penthouse_lid_open_fault", "unknown_location_open_fault", "vehicle_node_fault",
        "no_12v_supply", "vehicle_or_penthouse_lid_open_fault")  # fmt: skip
SNA_10BIT = 1023


def contactor_state(
    status: Mapping[str, float] | None, hvp: Mapping[str, float] | None
) -> str | None:
    """The pack's contactor state as far as its own frames tell it; None when unknown."""
    if hvp is not None:
        poles = (hvp.get("pos_contactor"), hvp.get("neg_contactor"))
        if CONTACTOR_WELDED in poles:
            return "welded"
        if hvp.get("pos_contactor") == CONTACTOR_PRECHARGE:
            return "precharge"
    state = BMS_CONTACTOR.get(int(status["bms_contactor_state"])) if status else None
    if state is None and hvp is not None:
        state = HVP_SET_STATE.get(int(hvp["contactor_set_state"]))
    if state in ("open", None) and status and status.get("bms_state") == BMS_STATE_FAULT:
        return "fault"
    return state


def brick_count(frames: Mapping[int, bytes]) -> int | None:
    """The pack's brick count once the end of the scan has been seen: the first empty mux,
    a frame with fewer than three bricks, or a full last mux (108); else None."""
    ends: list[int] = []
    for index, data in frames.items():
        if index >= BRICK_MUXES or len(data) < 2:
            continue
        present = sum(data[1] >> (2 * k + 1) & 1 for k in range(3))
        if present < 3 or index == BRICK_MUXES - 1:
            ends.append(3 * index + present)
    return min(ends) if ends else None


def brick_voltages(frames: Mapping[int, bytes]) -> dict[int, float]:
    """brick index → volts from the 0x401 frames per mux; absent and 0 V bricks left out."""
    bricks: dict[int, float] = {}
    for index, data in frames.items():
        if index >= BRICK_MUXES or len(data) < 2:
            continue
        for k in range(3):
            offset = 2 + 2 * k
            if data[1] >> (2 * k + 1) & 1 and len(data) >= offset + 2:
                raw = int.from_bytes(data[offset : offset + 2], "little")
                if 0 < raw < 0xFFFF:
                    bricks[3 * index + k] = round(raw * 0.0001, 4)
    return bricks


class TeslaModel3Codec(CanCodec):
    """Reads a Model 3/Y pack (NCA/NCM 96 bricks or LFP 102-108) from its broadcast."""

    name = "tesla_model3"
    min_length: ClassVar[Mapping[int, int]] = {
        ID_AMP_VOLT: 4,
        ID_SOC: 5,
        ID_MINMAX: 4,
        ID_BRICKS: 4,
        ID_STATUS: 5,
        ID_HVP: 6,
        ID_POWER: 4,
        ID_ENERGY: 8,
        ID_VA_LIMITS: 8,
        ID_THERMAL: 8,
        ID_TOTALS: 8,
        ID_ALERTS: 8,
    }

    def frame_key(self, can_id: int, data: bytes) -> Hashable:
        mask = MUX_BITS.get(can_id)
        return can_id if mask is None or not data else (can_id, data[0] & mask)

    def decode_latest(self, latest: Mapping[Hashable, bytes], timestamp: float) -> BatterySample:
        def muxed(can_id: int) -> dict[int, bytes]:
            return {k[1]: v for k, v in latest.items() if isinstance(k, tuple) and k[0] == can_id}

        raw = latest.get(ID_AMP_VOLT)
        if raw is None:
            raise ProtocolError("no 0x132 (pack voltage/current) frame")
        av = read_signals(AMP_VOLT, raw)
        voltage, current = av["voltage"], av["current"]
        extra: dict[str, ExtraValue] = {}
        if av.get("charge_time_remaining_min", 4095) != 4095:
            extra["charge_time_remaining_min"] = int(av["charge_time_remaining_min"])
        soc = self._soc(latest.get(ID_SOC), extra)
        self._energy(muxed(ID_ENERGY), extra)
        if soc is None and extra.get("energy_full_kwh"):
            soc = round(
                100 * float(extra["energy_remaining_kwh"]) / float(extra["energy_full_kwh"]), 1
            )
        temps = self._temperatures(latest, muxed(ID_MINMAX), extra)
        bricks = brick_voltages(muxed(ID_BRICKS))
        cells: tuple[float, ...] = ()
        count = brick_count(muxed(ID_BRICKS))
        if count and all(i in bricks for i in range(count)):  # the whole scan is known
            cells = tuple(bricks[i] for i in range(count))
            extra["bricks"] = len(cells)
            extra["chemistry"] = "LFP" if len(cells) >= LFP_MIN_BRICKS else "NCA/NCM"
        extra["bricks_seen"] = len(bricks)
        status = read_signals(STATUS, latest[ID_STATUS]) if ID_STATUS in latest else None
        hvp = read_signals(HVP, latest[ID_HVP]) if ID_HVP in latest else None
        self._status(status, hvp, extra)
        self._limits(latest, voltage, extra)
        alert_frames = muxed(ID_ALERTS)
        names = active_alerts(alert_frames)
        alarms, warnings = alert_alarms(names)
        if alert_frames:
            extra["bms_alerts"] = ",".join(names)
            extra["isolation_fault"] = bool(ISOLATION_ALERTS.intersection(names))
        if WELD_ALERTS.intersection(names):
            extra["contactor"] = "welded"
        if status is not None and status["bms_state"] == BMS_STATE_FAULT:
            alarms |= {Alarm.BMS_FAULT}
        # the contactors are the pack's switches: no power path unless they are closed
        closed = None if "contactor" not in extra else extra["contactor"] == "closed"
        capacity = charge = None
        if "chemistry" in extra and extra.get("energy_full_kwh"):
            nominal_v = len(cells) * NOMINAL_BRICK_V[str(extra["chemistry"])]
            capacity = round(float(extra["energy_full_kwh"]) * 1000 / nominal_v, 1)
            charge = round(float(extra["energy_remaining_kwh"]) * 1000 / nominal_v, 1)
        return BatterySample(
            timestamp=timestamp,
            voltage_v=voltage,
            current_a=current,
            soc_pct=soc,
            charge_ah=charge,
            capacity_ah=capacity,
            cell_voltages_v=cells,
            temperatures_c=temps,
            charge_enabled=closed,
            discharge_enabled=closed,
            alarms=alarms,
            warnings=warnings,
            extra=extra,
        )

    @staticmethod
    def _soc(raw: bytes | None, extra: dict[str, ExtraValue]) -> float | None:
        if raw is None:
            return None
        s = read_signals(SOC, raw)
        for key in ("soc_min", "soc_max", "soc_ave", "soc_ui"):
            if s[key] <= 100:
                extra[key] = s[key]
        if s.get("energy_bol_kwh", 0) and s["energy_bol_kwh"] < SNA_10BIT * 0.1:
            extra["energy_bol_kwh"] = s["energy_bol_kwh"]
        ui = extra.get("soc_ui")
        return float(ui) if ui is not None else extra.get("soc_ave")  # type: ignore[return-value]

    @staticmethod
    def _energy(frames: dict[int, bytes], extra: dict[str, ExtraValue]) -> None:
        """2021+ BMS: mux 0/1/2 rotate (two or more seen); older: one unmuxed layout."""
        if not frames:
            return
        if len(frames) >= 2:
            e = read_signals(ENERGY_M0, frames[0]) if 0 in frames else None
        else:  # one frame: the old layout if it makes sense (a lone 2021+ mux 2 frame does not)
            e = read_signals(ENERGY_OLD, next(iter(frames.values())))
        # either layout only when it makes sense: a real 2019 car's 0x352 (low bits 0/1
        # alternating, tests/vectors/logs) reads 1125 kWh as mux 0 and remaining > full as
        # the old layout; such energies are left out, never passed on
        if (
            e is not None
            and 0 < e["energy_full_kwh"] <= MAX_PACK_KWH
            and e["energy_remaining_kwh"] <= e["energy_full_kwh"]
        ):
            extra.update(e)

    @staticmethod
    def _temperatures(
        latest: Mapping[Hashable, bytes], minmax: dict[int, bytes], extra: dict[str, ExtraValue]
    ) -> tuple[float, ...]:
        if 1 in minmax:
            extra.update(read_signals(BRICK_MINMAX, minmax[1]))
            for key in ("cell_max_id", "cell_min_id"):
                if key in extra:
                    extra[key] = int(extra[key])
        if 0 in minmax:
            t = read_signals(TEMP_MINMAX, minmax[0])
            return (t["temperature_min"], t["temperature_max"])
        if (raw := latest.get(ID_THERMAL)) is not None:
            t = read_signals(THERMAL, raw)
            return (t["pack_temperature_min"], t["pack_temperature_max"])
        return ()

    @staticmethod
    def _status(
        status: Mapping[str, float] | None,
        hvp: Mapping[str, float] | None,
        extra: dict[str, ExtraValue],
    ) -> None:
        if (state := contactor_state(status, hvp)) is not None:
            extra["contactor"] = state
        if status is not None:
            state_no = int(status["bms_state"])
            extra["bms_state"] = (
                BMS_STATES[state_no] if state_no < len(BMS_STATES) else str(state_no)
            )
            if status["isolation_kohm"] < SNA_10BIT * 10:
                extra["isolation_kohm"] = status["isolation_kohm"]
            if "charge_power_available_kw" in status:
                extra["charge_power_available_kw"] = status["charge_power_available_kw"]
        if hvp is not None:
            hvil = int(hvp["hvil_status"])
            extra["hvil"] = HVIL[hvil] if hvil < len(HVIL) else str(hvil)
            extra["hvil_ok"] = hvil == 1
            extra["closing_allowed"] = bool(hvp["closing_allowed"])

    @staticmethod
    def _limits(
        latest: Mapping[Hashable, bytes], voltage: float, extra: dict[str, ExtraValue]
    ) -> None:
        if (raw := latest.get(ID_POWER)) is not None:
            p = read_signals(POWER, raw)
            extra.update(p)
            if voltage > 1:  # W / V; a dead bus gives no limit rather than a huge one
                extra["charge_current_limit"] = round(p["max_charge_power_kw"] * 1000 / voltage, 1)
                extra["discharge_current_limit"] = round(
                    p["max_discharge_power_kw"] * 1000 / voltage, 1
                )
        if (raw := latest.get(ID_VA_LIMITS)) is not None:
            extra.update(read_signals(VA_LIMITS, raw))
        if (raw := latest.get(ID_TOTALS)) is not None:
            extra.update(read_signals(TOTALS, raw))
