"""Nissan LEAF: the newest broadcast frames and LBC group replies → one ``BatterySample``.

Group replies (p[0] = 0x61, p[1] = group), offsets from samsta/BatteryController and
Battery-Emulator, checked on a real AZE0 capture (kfrancis/ObdInsight LeafGoldenData):

    0x01 ZE0/AZE0 (0x29/0x2B bytes): p[20..21] pack V ×0.01, p[24..25] insulation kΩ,
         p[28..29] Hx ×0.01 %, p[31..33] SoC ×0.0001 %, p[35..37] capacity ×0.0001 Ah
    0x01 ZE1 (0x35 bytes): the same, but Hx p[30..31] raw/102.4 %, SoC p[33..35], capacity
         p[37..39] (OVMS vehicle_nissanleaf.cpp, on the ZE1 reply it quotes)
    0x02 p[2+2k..3+2k] cell k in mV, k = 0..95, then pack and bus voltage ×0.01 V (OVMS)
         (198 bytes; shorter = truncated, an error; a cell outside 0.5..5 V, an error too)
    0x04 four sensors of 3 bytes from p[2]: raw ADC u16, signed °C; raw 0xFFFF = absent
"""

from __future__ import annotations

from collections.abc import Mapping

from batmux.errors import CorruptFrame
from batmux.model.sample import BatterySample, ExtraValue
from batmux.protocols.nissan_leaf_frames import (
    AZE0_MARKER,
    CELLS,
    ENERGY,
    GROUP_LENGTH_GENERATION,
    HISTORY,
    LIMITS,
    REPLY,
    SOC,
    STATUS,
    WH_PER_GID,
    ZE1_MARKERS,
    key,
    read_frame,
)

CELL_GROUP, TEMP_GROUP, INFO_GROUP = 0x02, 0x04, 0x01
MIN_GROUP_LENGTH = {INFO_GROUP: 0x29, CELL_GROUP: 2 + 2 * CELLS, TEMP_GROUP: 14}
# max GIDs (a new pack's figure) → nominal kWh: 24 kWh ≈ 281, 30 ≈ 356, 40 ≈ 502, 62 ≈ 775
KWH_BY_MAX_GIDS = ((320, 24), (440, 30), (640, 40), (1024, 62))


def _u(p: bytes, start: int, size: int) -> int:
    return int.from_bytes(p[start : start + size], "big")


def check_group(message: bytes) -> None:
    """``CorruptFrame`` for a reply too short for its group (an ELM327 cut a 0x02 short)."""
    need = MIN_GROUP_LENGTH.get(message[1])
    if need is not None and len(message) < need:
        raise CorruptFrame(f"LBC group 0x{message[1]:02X}: {len(message)} bytes, need {need}")
    if message[1] == CELL_GROUP:  # OVMS skips cells ≥ 5 V; one would void the whole sample here
        bad = [k + 1 for k, v in enumerate(cell_voltages(message)) if not 0.5 <= v < 5.0]
        if bad:
            raise CorruptFrame(f"LBC cells {bad[:5]} out of range")


def info_group(p: bytes) -> dict[str, float]:
    """Group 0x01 by its length (its layout differs per generation)."""
    generation = GROUP_LENGTH_GENERATION.get(len(p))
    if generation is None:  # e.g. the 0x2C bytes a ZE1 sends just after waking up
        return {}
    ze1 = generation == "ZE1"  # two bytes later from Hx on, Hx in 1/102.4 %
    return {
        "lbc_voltage": _u(p, 20, 2) / 100,
        "insulation_kohm": _u(p, 24, 2),
        "hx_pct": round(_u(p, 30, 2) / 102.4, 2) if ze1 else _u(p, 28, 2) / 100,
        "soc_precise": _u(p, 33 if ze1 else 31, 3) / 10000,
        "capacity_ah": _u(p, 37 if ze1 else 35, 3) / 10000,
    }


def cell_voltages(p: bytes) -> tuple[float, ...]:
    return tuple(_u(p, 2 + 2 * k, 2) / 1000 for k in range(CELLS))


def temperatures(p: bytes) -> tuple[float, ...]:
    """The °C byte of every present sensor (raw ADC 0xFFFF = sensor absent)."""
    out = []
    for i in range(4):
        raw, temp = _u(p, 2 + 3 * i, 2), p[4 + 3 * i]
        if raw != 0xFFFF:
            out.append(float(temp - 256 if temp > 127 else temp))
    return tuple(out)


def pack_kwh(max_gids: float) -> int:
    return next(kwh for limit, kwh in KWH_BY_MAX_GIDS if max_gids <= limit)


def generation(latest: Mapping[int, bytes]) -> tuple[str | None, int | None]:
    """(generation, nominal kWh) from the battery's own frames, strongest evidence first."""
    info = latest.get(key(REPLY, INFO_GROUP))
    by_length = GROUP_LENGTH_GENERATION.get(len(info)) if info is not None else None
    kwh = None
    if (mx := latest.get(key(ENERGY, 1))) is not None and (gids := read_frame(ENERGY, mx)["gids"]):
        kwh = pack_kwh(gids)
    if by_length == "ZE0" and AZE0_MARKER in latest:  # the 24 kWh layout, sent by an AZE0
        by_length = "AZE0"
    if by_length is not None:
        if kwh is None and info is not None and len(info) == 0x29:
            kwh = 24  # the 24 kWh layout (30/40/62 kWh packs also send their max GIDs)
        return by_length, kwh
    if kwh is not None:  # only 30/40/62 kWh packs send the max-GIDs mux
        return ("AZE0" if kwh <= 30 else "ZE1"), kwh
    if any(m in latest for m in ZE1_MARKERS):
        return "ZE1", None
    if AZE0_MARKER in latest:
        return "AZE0", None
    return None, None


def build_sample(latest: Mapping[int, bytes], timestamp: float) -> BatterySample:
    extra: dict[str, ExtraValue] = {}
    gen, kwh = generation(latest)
    if gen is not None:
        extra["generation"] = gen
    if kwh is not None:
        extra["pack_kwh"] = kwh
    status = read_frame(STATUS, latest[STATUS]) if STATUS in latest else {}
    for name in ("failsafe_status", "relay_cut_request", "usable_soc", "prun"):
        if (value := status.get(name)) is not None:
            extra[name] = int(value)
    for name in ("main_relay_on", "full_charge", "interlock"):
        if name in status:
            extra[name] = bool(status[name])
    if "main_relay_on" in status:  # the EV-pack fields the contactor control reads
        extra["contactor"] = "closed" if status["main_relay_on"] else "open"
    # b3 = interlock seated (Battery-Emulator flags an HVIL failure on 0 only in builds with
    # INTERLOCK_REQUIRED: it reads 0 unless both HV connectors are seated)
    if "interlock" in status:
        extra["hvil_ok"] = bool(status["interlock"])
    info = latest.get(key(REPLY, INFO_GROUP))
    polled = info_group(info) if info is not None else {}
    capacity = polled.pop("capacity_ah", None)
    extra.update(polled)
    voltage = status.get("voltage") or polled.get("lbc_voltage")
    soc = None
    if SOC in latest:
        values = read_frame(SOC, latest[SOC])
        soc = values["soc"]
        extra["capacity_empty"] = bool(values["capacity_empty"])
    if soc is None:  # the usable SoC is 0 on 62 kWh packs: no stand-in then
        soc = polled.get("soc_precise") or status.get("usable_soc") or None
    soh = _energy(latest, gen, extra)
    _limits(latest, voltage, extra)
    cells = latest.get(key(REPLY, CELL_GROUP))
    cell_v = cell_voltages(cells) if cells is not None else ()
    if cell_v:
        extra["cell_sum"] = round(sum(cell_v), 3)
        if cells is not None and len(cells) >= 2 + 2 * CELLS + 4:  # OVMS: pack, then bus voltage
            extra["lbc_pack_voltage"] = _u(cells, 2 + 2 * CELLS, 2) / 100
            extra["lbc_bus_voltage"] = _u(cells, 4 + 2 * CELLS, 2) / 100
    return BatterySample(
        timestamp=timestamp,
        voltage_v=voltage,
        current_a=status.get("current"),
        soc_pct=soc,
        soh_pct=soh,
        capacity_ah=capacity,
        charge_ah=round(capacity * soc / 100, 3) if capacity and soc is not None else None,
        cell_voltages_v=cell_v,
        temperatures_c=_temperatures(latest, gen, extra),
        extra=extra,
    )


def _energy(
    latest: Mapping[int, bytes], gen: str | None, extra: dict[str, ExtraValue]
) -> float | None:
    """0x5BC: GIDs, max GIDs and the energies they give; returns the SOH (None when 0)."""
    soh = None
    if (energy := latest.get(key(ENERGY, 0))) is not None:
        values = read_frame(ENERGY, energy)
        soh = values["soh"] or None
        if (gids := values["gids"]) is not None:
            extra["gids"], extra["remaining_wh"] = int(gids), int(gids * WH_PER_GID)
        if gen == "ZE0" and values["ze0_temperature"] is not None:
            extra["ze0_temperature"] = values["ze0_temperature"]
    mx = latest.get(key(ENERGY, 1))
    if mx is not None and (max_gids := read_frame(ENERGY, mx)["gids"]) is not None:
        extra["max_gids"] = int(max_gids)
        if soh:
            extra["full_wh"] = int(max_gids * WH_PER_GID * soh / 100)
    return soh


def _limits(
    latest: Mapping[int, bytes], voltage: float | None, extra: dict[str, ExtraValue]
) -> None:
    """The pack's power limits, and as currents at the present voltage (0 when it says stop)."""
    if LIMITS not in latest:
        return
    values = read_frame(LIMITS, latest[LIMITS])
    for name, value in values.items():
        if value is not None and name != "prun":
            extra[name] = value
    if not voltage:
        return
    charge = (values["charge_power_limit_kw"] or 0) * 1000 / voltage
    discharge = (values["discharge_power_limit_kw"] or 0) * 1000 / voltage
    if extra.get("relay_cut_request"):
        charge = discharge = 0.0
    if extra.get("full_charge"):
        charge = 0.0
    if extra.get("capacity_empty"):
        discharge = 0.0
    extra["charge_current_limit"] = round(charge, 1)
    extra["discharge_current_limit"] = round(discharge, 1)


def _temperatures(
    latest: Mapping[int, bytes], gen: str | None, extra: Mapping[str, ExtraValue]
) -> tuple[float, ...]:
    """Polled sensors first; else what the generation broadcasts (AZE0 0x5C0, ZE0 0x5BC)."""
    if (temps := latest.get(key(REPLY, TEMP_GROUP))) is not None and temperatures(temps):
        return temperatures(temps)
    low, high = latest.get(key(HISTORY, 3)), latest.get(key(HISTORY, 1))
    if gen == "AZE0" and low is not None and high is not None:
        temps = (read_frame(HISTORY, low)["temperature"], read_frame(HISTORY, high)["temperature"])
        return tuple(t for t in temps if t is not None)
    if "ze0_temperature" in extra:
        return (float(extra["ze0_temperature"]),)
    return ()
