"""BYD Modbus register map: golden values, captured dumps, state machine, fail-safe."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batmux.errors import ProtocolError
from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.protocols.byd_modbus import (
    BLOCKS,
    BydState,
    EmulatorState,
    Identity,
    build_registers,
    decode_identity,
    decode_registers,
    defined,
    pack_capacity_wh,
    pack_string,
    read_block,
    startup_write,
    toggle_keepalive,
    writable,
)
from conftest import VECTORS


def load(name: str) -> dict:
    return json.loads((VECTORS / "modbus" / name).read_text())


def state_from_expected(exp: dict, available: bool = True) -> BatteryState:
    """A battery state that should make a BYD battery report ``exp`` (vector field names)."""
    volts = exp["310_inner_voltage_V"]
    sample = BatterySample(
        timestamp=0.0,
        voltage_v=volts,
        current_a=0.0,
        soc_pct=exp["303_soc_pct"],
        capacity_ah=exp["304_total_capacity_Wh"] / volts,
        temperatures_c=(exp["312_temp_min_C"], exp["313_temp_max_C"]),
        mos_temperature_c=exp["322_device_temp_C"],
        soh_pct=exp["323_soh_pct"],
    )
    limits = ChargeLimits(
        charge_voltage_v=233.6,
        charge_current_a=exp["307_max_charge_W"] / volts,
        discharge_current_a=exp["306_max_discharge_W"] / volts,
        discharge_voltage_v=160.0,
    )
    meters = Meters(
        charged_kwh=exp["314_317_charged_Wh"] / 1000,
        discharged_kwh=exp["318_321_discharged_Wh"] / 1000,
    )
    return BatteryState("bank", available, sample, meters=meters, limits=limits)


def emu_in(state: BydState) -> EmulatorState:
    emu = EmulatorState()
    emu.state = state
    return emu


@pytest.mark.parametrize("which", ["log5", "readme"])
def test_register_dumps_rebuilt_exactly(which: str) -> None:
    data = load("byd_hvm_register_dumps.json")
    exp = data["expected"][which]
    dump = next(d for d in data["register_dumps"] if d["start_addr"] == 300
                and d["values"][0] == exp["300_status"])  # fmt: skip
    regs = build_registers(state_from_expected(exp), emu_in(BydState(exp["300_status"])), 0.0)
    assert read_block(regs, 300, 24) == dump["values"]


@pytest.mark.parametrize("which", ["log5", "readme"])
def test_register_dumps_decode(which: str) -> None:
    data = load("byd_hvm_register_dumps.json")
    exp = data["expected"][which]
    dump = next(d for d in data["register_dumps"] if d["start_addr"] == 300
                and d["values"][0] == exp["300_status"])  # fmt: skip
    system = next(d for d in data["register_dumps"] if d["start_addr"] == 200)["values"]
    regs = dict(zip(range(300, 324), dump["values"], strict=True))
    regs.update(zip(range(200, 213), system, strict=True))
    s = decode_registers(regs, 7.0)
    assert s.timestamp == 7.0
    assert s.soc_pct == exp["303_soc_pct"]
    assert s.voltage_v == exp["310_inner_voltage_V"]
    assert s.power_w == exp["311_inner_power_W"]
    assert s.current_a == 0.0
    assert s.temperatures_c == (exp["312_temp_min_C"], exp["313_temp_max_C"])
    assert s.mos_temperature_c == exp["322_device_temp_C"]
    assert s.soh_pct == exp["323_soh_pct"]
    assert s.charge_enabled is True and s.discharge_enabled is False
    x = s.extra
    assert x["capacity_wh"] == exp["304_total_capacity_Wh"]
    assert x["remaining_wh"] == exp["305_remaining_Wh"]
    assert x["max_charge_power_w"] == exp["307_max_charge_W"]
    assert x["max_discharge_power_w"] == exp["306_max_discharge_W"]
    assert x["outer_voltage"] == exp["308_outer_voltage_V"]
    assert x["total_charged_kwh"] * 1000 == pytest.approx(exp["314_317_charged_Wh"])
    assert x["total_discharged_kwh"] * 1000 == pytest.approx(exp["318_321_discharged_Wh"])
    assert x["byd_state"] == BydState(exp["300_status"]).name.lower()
    assert (x["max_voltage"], x["min_voltage"], x["rated_capacity_wh"]) == (233.6, 160.0, 11059)
    # the BMS's own limits, in the keys core.limits caps with (W / inner voltage; 205/206)
    assert x["charge_current_limit"] == round(exp["307_max_charge_W"] / s.voltage_v, 2)
    assert x["discharge_current_limit"] == round(exp["306_max_discharge_W"] / s.voltage_v, 2)
    assert (x["charge_voltage_limit"], x["discharge_voltage_limit"]) == (233.6, 160.0)


def test_idle_capture_block_300_rebuilt() -> None:
    data = load("byd_hvm_gen24_idle_rtu.json")
    exp = data["expected"]["block_300_idle_standby"]
    reply = bytes.fromhex(data["frames"][1]["data"])
    values = [int.from_bytes(reply[3 + 2 * i : 5 + 2 * i], "big") for i in range(24)]
    regs = build_registers(state_from_expected(exp), emu_in(BydState.STANDBY), 0.0)
    assert read_block(regs, 300, 24) == values


def active_state(power_w: float = -1500.0) -> BatteryState:
    sample = BatterySample(
        timestamp=1.0,
        voltage_v=52.0,
        power_w=power_w,
        soc_pct=55.5,
        capacity_ah=280.0,
        temperatures_c=(18.2, 24.9),
        mos_temperature_c=31.0,
        soh_pct=97.5,
    )
    limits = ChargeLimits(56.8, 100.0, 150.0, 46.4, reason="")
    return BatteryState("bank", True, sample, Meters(1234.5678, 1000.0), limits)


def test_golden_active_registers() -> None:
    emu = EmulatorState()
    assert emu.apply_write(400, [2], now=0.0)
    regs = build_registers(active_state(), emu, 0.0)
    # 280 Ah × 52 V = 14560 Wh; ~1 C continuous, 1.3× peak; CVL 56.8 V / DVL 46.4 V in dV
    assert read_block(regs, 200, 13) == [
        0, 0, 14560, 14560, 14560, 568, 464, 18928, 10, 18928, 10, 0, 0,
    ]  # fmt: skip
    assert read_block(regs, 300, 24) == [
        3, 0, 128, 5550,  # ACTIVE, mode, SoC 55.50 %
        14560, 8080,  # total Wh; floor(55.5 % × 14560)
        7800, 5200,  # DCL 150 A × 52 V, CCL 100 A × 52 V
        520, 1500,  # outer 52.0 V, discharging 1500 W → positive for BYD
        520, 1500,  # inner
        182, 249,  # 18.2 / 24.9 °C
        0, 0, 0x12, 0xD688,  # 1234.5678 kWh charged → 1234568 Wh, u64 MSW first
        0, 0, 0x0F, 0x4240,  # 1000 kWh discharged
        310, 9750,  # device 31.0 °C, SOH 97.50 %
    ]  # fmt: skip


def test_discharging_is_positive_and_outer_only_when_active() -> None:
    regs = build_registers(active_state(power_w=2000.0), EmulatorState(), 0.0)
    assert regs[300] == BydState.INACTIVE
    assert regs[308] == regs[309] == 0  # not ACTIVE: no outer voltage/power
    assert regs[310] == 520 and regs[311] == (-2000) & 0xFFFF  # charging 2000 W
    regs = build_registers(active_state(power_w=-2000.0), EmulatorState(), 0.0)
    assert regs[311] == 2000  # discharging 2000 W → positive for BYD


def test_clamping() -> None:
    sample = BatterySample(
        timestamp=0.0,
        voltage_v=800.0,
        power_w=-90000.0,  # discharging 90 kW
        soc_pct=130.0,
        capacity_ah=500.0,  # 400 kWh
        temperatures_c=(-4000.0, 4000.0),
        soh_pct=-5.0,
    )
    state = BatteryState("big", True, sample, Meters(2.0**70, -3.0),
                         ChargeLimits(9000.0, 1000.0, 1000.0, -1.0))  # fmt: skip
    emu = EmulatorState()
    emu.apply_write(400, [2], 0.0)
    regs = build_registers(state, emu, 0.0)
    assert all(0 <= v <= 0xFFFF for v in regs.values())
    assert regs[202] == regs[203] == regs[204] == regs[207] == 0xFFFF
    assert (regs[205], regs[206]) == (0xFFFF, 0)
    assert regs[303] == 13000 and regs[304] == 0xFFFF and regs[305] == 0xFFFF
    assert regs[306] == regs[307] == 0xFFFF
    assert regs[308] == 8000 and regs[309] == regs[311] == 0x7FFF
    assert (regs[312], regs[313]) == (0x8000, 0x7FFF)
    assert read_block(regs, 314, 4) == [0xFFFF] * 4  # clamped, not wrapped
    assert read_block(regs, 318, 4) == [0, 0, 0, 0]
    assert regs[323] == 0


def test_identity_block() -> None:
    regs = build_registers(None, EmulatorState(), 0.0)
    assert read_block(regs, 100, 2) == [0x5349, 1]
    assert read_block(regs, 166, 2) == [1, 0]
    assert regs[102] == 0x4259 and regs[103] == 0x4400  # "BY" "D\0"
    ident = decode_identity(regs)
    assert ident == Identity()
    assert ident.serial.strip("0") and ident.serial.startswith("P030")
    assert pack_string("ABC", 2) == [0x4142, 0x4300]
    assert pack_string("TOO LONG", 2) == [0x544F, 0x4F20]
    with pytest.raises(ProtocolError):
        decode_identity({})


def test_before_first_data_is_not_ready() -> None:
    """Issue #11 item 6: before the first good sample a real pack's power-up state, INACTIVE
    (not STANDBY/ACTIVE with SoC 0), whatever the fallback and whatever the inverter wrote."""
    for fallback in ("none", "standby", "fault"):
        emu = EmulatorState(fallback=fallback)  # type: ignore[arg-type]
        emu.apply_write(400, [2], 0.0)  # the Gen24 asks for ACTIVE before any data
        for state in (None, BatteryState("bank", False, None)):
            regs = build_registers(state, emu, 0.0)
            assert regs[300] == BydState.INACTIVE
            assert regs[306] == regs[307] == regs[308] == regs[309] == 0
    assert read_block(build_registers(None, EmulatorState(), 0.0), 1000, 100) == [0] * 100


@pytest.mark.parametrize("fallback", ["none", "standby", "fault"])
def test_stale_zeroes_power_and_applies_fallback(fallback: str) -> None:
    emu = EmulatorState(fallback=fallback, stale_after_s=30.0)  # type: ignore[arg-type]
    emu.apply_write(400, [2], 0.0)
    good = active_state()
    expected = {"none": BydState.ACTIVE, "standby": BydState.STANDBY, "fault": BydState.FAULT}
    unavailable = BatteryState("bank", False, good.sample, good.meters, good.limits)
    stale_limits = BatteryState("bank", True, good.sample, good.meters,
                                ChargeLimits(56.8, 0.0, 0.0, reason="stale"))  # fmt: skip
    old = BatteryState("bank", True, good.sample, good.meters, good.limits, last_good_at=100.0)
    assert build_registers(good, emu, 0.0)[300] == BydState.ACTIVE  # data seen once
    for state, now in ((unavailable, 0.0), (stale_limits, 0.0), (old, 131.0), (None, 0.0)):
        regs = build_registers(state, emu, now)
        assert (regs[306], regs[307]) == (0, 0)
        assert regs[300] == expected[fallback]
    regs = build_registers(old, emu, 129.0)  # within the bound: served normally
    assert (regs[300], regs[306], regs[307]) == (BydState.ACTIVE, 7800, 5200)


def test_default_fallback_is_fault() -> None:
    """Issue #11 item 3: with default settings a stale battery reports FAULT (4) in 300, as
    Battery-Emulator does for a missing battery, and ACTIVE again once data is fresh."""
    emu = EmulatorState(stale_after_s=30.0)
    emu.apply_write(400, [2], 0.0)
    good = active_state()
    assert build_registers(good, emu, 0.0)[300] == BydState.ACTIVE
    assert build_registers(BatteryState("bank", False, good.sample), emu, 1.0)[300] == 4
    assert build_registers(good, emu, 2.0)[300] == BydState.ACTIVE


def test_inverter_silent_stop_zeroes_power() -> None:
    emu = EmulatorState(alive_timeout_s=60.0, on_inverter_silent="stop")
    emu.apply_write(400, [2], 0.0)
    good = active_state()
    assert build_registers(good, emu, 0.0)[307] == 0  # no request seen yet: silent
    emu.last_request_at = 10.0
    regs = build_registers(good, emu, 20.0)
    assert (regs[306], regs[307]) == (7800, 5200)
    regs = build_registers(good, emu, 71.0)  # no request for > 60 s
    assert (regs[300], regs[306], regs[307]) == (BydState.ACTIVE, 0, 0)
    report = EmulatorState(alive_timeout_s=60.0, on_inverter_silent="report")
    report.apply_write(400, [2], 0.0)
    assert build_registers(good, report, 500.0)[307] == 5200


def test_state_machine_and_keepalive() -> None:
    emu = EmulatorState(alive_timeout_s=60.0)
    assert emu.state == BydState.INACTIVE and not emu.inverter_alive(0.0)
    assert emu.apply_write(400, startup_write(1643478601), now=10.0)
    assert emu.command[:9] == [1, 0xFF00, 60, 0, 0, 0x61F5, 0x7E49, 0, 1]
    assert emu.state == BydState.INACTIVE and emu.inverter_alive(10.0)
    assert emu.apply_write(400, [2], 11.0) and emu.state == BydState.ACTIVE
    assert emu.inverter_alive(70.0) and not emu.inverter_alive(70.5)
    assert emu.apply_write(401, [toggle_keepalive(0xFF00)], 69.0)
    assert emu.command[1] == 0x00FF and emu.inverter_alive(128.0)
    assert emu.apply_write(401, [0x00FF], 100.0)  # same value: not a toggle
    assert not emu.inverter_alive(129.5)
    assert emu.apply_write(400, [0], 130.0) and emu.state == BydState.STANDBY
    assert emu.apply_write(418, [7], 0.0)
    for address, values in ((399, [1]), (418, [1, 2]), (300, [1]), (400, [0x10000]), (400, [])):
        assert not emu.apply_write(address, values, 0.0)
    regs = build_registers(None, emu, 0.0)
    assert read_block(regs, 400, 3) == [0, 0x00FF, 60] and regs[418] == 7


def test_address_map() -> None:
    assert defined(100, 68) and defined(300, 24) and defined(1000, 100) and defined(418, 1)
    assert not defined(99, 2) and not defined(300, 25) and not defined(168, 1)
    assert not defined(1099, 2) and not defined(300, 0) and not defined(12288, 1)
    assert writable(400, 19) and not writable(400, 20) and not writable(300, 1)
    regs = build_registers(None, EmulatorState(), 0.0)
    assert sorted(regs) == [a for start, n in BLOCKS for a in range(start, start + n)]


def test_decode_needs_live_block() -> None:
    with pytest.raises(ProtocolError):
        decode_registers({300: 1})


@given(
    volts=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    power=st.one_of(st.none(), st.floats(-1e7, 1e7)),
    soc=st.one_of(st.none(), st.floats(-1e3, 1e3)),
    cap=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    temps=st.lists(st.floats(-1e5, 1e5), max_size=4),
    amps=st.floats(-1e5, 1e5),
    kwh=st.floats(-1e30, 1e30),
)
def test_any_state_gives_valid_registers(volts, power, soc, cap, temps, amps, kwh) -> None:
    sample = BatterySample(timestamp=0.0, voltage_v=volts, power_w=power, soc_pct=soc,
                           capacity_ah=cap, temperatures_c=tuple(temps))  # fmt: skip
    state = BatteryState("x", True, sample, Meters(kwh, kwh), ChargeLimits(volts or 0, amps, amps))
    emu = EmulatorState()
    emu.apply_write(400, [2], 0.0)
    regs = build_registers(state, emu, 0.0)
    assert all(isinstance(v, int) and 0 <= v <= 0xFFFF for v in regs.values())
    decode_registers(regs)


def test_pack_capacity_wh_is_capacity_times_voltage_or_zero() -> None:
    def state(**kw: float | None) -> BatteryState:
        return BatteryState(name="p", available=True, sample=BatterySample(timestamp=0.0, **kw))

    assert pack_capacity_wh(state(capacity_ah=280.0, voltage_v=52.0)) == pytest.approx(14560.0)
    assert pack_capacity_wh(state(capacity_ah=280.0)) == 0.0  # no voltage
    assert pack_capacity_wh(state(voltage_v=52.0)) == 0.0  # no capacity
    assert pack_capacity_wh(BatteryState("p", False, None)) == 0.0  # no sample
    assert pack_capacity_wh(None) == 0.0
