"""The CAN simulators' frames decoded by the field's own decoders' arithmetic (written out here,
since their C++ cannot be imported): OpenDTU-OnBattery's Pylontech CAN reader
(hoylabs/OpenDTU-OnBattery:src/battery/pylontech/Provider.cpp) for the simulated Pylontech
stack, and the inverse of Battery-Emulator's BYD CAN encoder
(dalathegreat/Battery-Emulator:Software/src/inverter/BYD-CAN.cpp) for the BYD emulation."""

from __future__ import annotations

from batmux.protocols import byd_can
from batmux.sim.battery import SimBattery
from batmux.sim.bms import sim_state
from batmux.sim.can_battery import battery_frames


def _u16le(d: bytes, i: int) -> int:
    return int.from_bytes(d[i : i + 2], "little")


def _s16le(d: bytes, i: int) -> int:
    return int.from_bytes(d[i : i + 2], "little", signed=True)


def opendtu_pylontech(frames: dict[int, bytes]) -> dict[str, float | bool]:
    """OpenDTU's arithmetic, field by field."""
    f351, f355, f356, f359, f35c = (frames[i] for i in (0x351, 0x355, 0x356, 0x359, 0x35C))
    return {
        "charge_voltage": _u16le(f351, 0) * 0.1,
        "charge_current_limit": _s16le(f351, 2) * 0.1,
        "discharge_current_limit": _s16le(f351, 4) * 0.1,
        "discharge_voltage": _u16le(f351, 6) * 0.1,
        "soc": _u16le(f355, 0),
        "soh": _u16le(f355, 2),
        "voltage": _s16le(f356, 0) * 0.01,
        "current": _s16le(f356, 2) * 0.1,
        "temperature": _s16le(f356, 4) * 0.1,
        "alarm_bms_internal": bool(f359[1] >> 3 & 1),
        "alarm_over_voltage": bool(f359[0] >> 1 & 1),
        "module_count": f359[4],
        "charge_enabled": bool(f35c[0] >> 7 & 1),
        "discharge_enabled": bool(f35c[0] >> 6 & 1),
    }


def test_simulated_pylontech_stack_in_opendtu_arithmetic() -> None:
    battery = SimBattery(soc_pct=63.0, current_a=-12.0)
    truth = sim_state("sim", battery)
    assert truth.sample is not None and truth.limits is not None
    got = opendtu_pylontech(dict(battery_frames("sim", battery)))
    s, lim = truth.sample, truth.limits
    assert abs(got["voltage"] - s.voltage_v) < 0.006  # type: ignore[operator]
    assert abs(got["current"] - s.current_a) < 0.051  # type: ignore[operator]
    assert got["soc"] == round(s.soc_pct)  # type: ignore[arg-type]
    assert abs(got["charge_voltage"] - lim.charge_voltage_v) < 0.051
    assert abs(got["charge_current_limit"] - lim.charge_current_a) < 0.051
    assert abs(got["discharge_current_limit"] - lim.discharge_current_a) < 0.051
    assert got["alarm_bms_internal"] is False and got["alarm_over_voltage"] is False
    assert got["current"] < 0  # discharging reads negative in OpenDTU too
    assert got["charge_enabled"] is (lim.charge_current_a > 0)


def test_byd_emulation_in_battery_emulator_arithmetic() -> None:
    battery = SimBattery(cells=64, soc_pct=41.5, current_a=7.5)
    truth = sim_state("sim", battery)
    assert truth.sample is not None and truth.limits is not None
    frames = byd_can.build_periodic(truth, truth.limits)
    f110, f150, f1d0 = frames[0x110], frames[0x150], frames[0x1D0]

    def be16(d: bytes, i: int, signed: bool = False) -> int:
        return int.from_bytes(d[i : i + 2], "big", signed=signed)

    s, lim = truth.sample, truth.limits
    assert abs(be16(f110, 0) / 10 - lim.charge_voltage_v) < 0.051  # charge V, dV
    assert abs(be16(f110, 4, True) / 10 - lim.discharge_current_a) < 0.051  # discharge A, dA
    assert abs(be16(f110, 6) / 10 - lim.charge_current_a) < 0.051  # charge A, dA
    assert abs(be16(f150, 0) / 100 - s.soc_pct) < 0.006  # type: ignore[operator]  # pptt
    assert abs(be16(f1d0, 0, True) / 10 - s.voltage_v) < 0.051  # type: ignore[operator]
    assert abs(be16(f1d0, 2, True) / 10 - s.current_a) < 0.051  # type: ignore[operator]
    assert be16(f1d0, 2, True) > 0 and f1d0[6] == 3  # charging reads positive; state ready
