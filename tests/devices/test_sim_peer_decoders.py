"""The Daly, Daly D2 and ANT simulators' frames, decoded with other projects' arithmetic
(tests/peer_decoders.py), carry the simulated battery's values: the simulators agree with the
field, not only with batmux's own codecs."""

from __future__ import annotations

import pytest

from batmux.protocols import ant, daly
from batmux.protocols import daly_modbus as dm
from batmux.sim.ant import AntSimDevice
from batmux.sim.daly import DalySimDevice
from batmux.sim.daly_modbus import DalyModbusSimDevice
from ble_sim import battery
from peer_decoders import aiobmsble_ant, aiobmsble_daly, dreadnought_daly


def close(got: float, want: float, step: float) -> bool:
    return abs(got - want) <= step / 2 + 1e-9


@pytest.mark.parametrize("current", [-12.3, 7.5])
def test_daly_modbus_sim_in_aiobmsble(current: float) -> None:
    bat = battery(cells=16, current=current)
    sim = DalyModbusSimDevice(bat)
    truth = bat.truth()
    (mos,) = sim.handle_write(sim.write_uuid, dm.MOS_REQUEST)
    (status,) = sim.handle_write(sim.write_uuid, dm.read_request(0, dm.STATUS_REGS))
    peer = aiobmsble_daly(status, mos)
    assert close(peer["voltage"], truth.voltage_v, 0.1)
    assert close(peer["current"], current, 0.1)  # D2 is positive = charging natively
    assert close(peer["battery_level"], truth.soc_pct, 0.1)
    assert close(peer["cycle_charge"], truth.charge_ah, 0.1)
    assert peer["cycles"] == truth.cycles
    assert peer["cell_voltages"] == pytest.approx(truth.cell_voltages_v, abs=5e-4)
    assert peer["temp_values"] == pytest.approx(truth.temperatures_c, abs=0.5)
    assert peer["mos_temperature"] == pytest.approx(truth.mos_temperature_c, abs=0.5)
    assert (peer["chrg_mosfet"], peer["dischrg_mosfet"]) == (
        truth.charge_enabled,
        truth.discharge_enabled,
    )
    assert peer["problem_code"] == 0


@pytest.mark.parametrize("current", [-12.3, 3.3])
def test_ant_sim_in_aiobmsble(current: float) -> None:
    bat = battery(cells=22, current=current)
    sim = AntSimDevice(bat)
    truth = bat.truth()
    (frame,) = sim.handle_write(sim.write_uuid, ant.STATUS_REQUEST)
    peer = aiobmsble_ant(frame)
    assert close(peer["voltage"], truth.voltage_v, 0.01)
    assert close(peer["current"], -current, 0.1)  # raw positive = discharging (ble.md 4.4)
    assert peer["battery_level"] == round(truth.soc_pct)
    assert close(peer["cycle_charge"], truth.charge_ah, 1e-6)
    assert peer["design_capacity"] == int(truth.capacity_ah)
    assert peer["cell_voltages"] == pytest.approx(truth.cell_voltages_v, abs=5e-4)
    assert peer["temp_values"] == pytest.approx(truth.temperatures_c, abs=0.5)
    assert peer["mos_temperature"] == pytest.approx(truth.mos_temperature_c, abs=0.5)
    assert (peer["batmon_charge_switch"], peer["batmon_discharge_switch"]) == (
        truth.charge_enabled,
        truth.discharge_enabled,
    )


def test_ant_sim_charge_off_in_batmon_bytes() -> None:
    bat = battery(cells=8)
    bat.charge_enabled = False
    sim = AntSimDevice(bat)
    (frame,) = sim.handle_write(sim.write_uuid, ant.STATUS_REQUEST)
    peer = aiobmsble_ant(frame)
    assert (peer["batmon_charge_switch"], peer["batmon_discharge_switch"]) == (False, True)


@pytest.mark.parametrize("current", [-12.3, 4.2])
def test_daly_sim_in_python_daly_bms(current: float) -> None:
    bat = battery(cells=16, current=current)
    sim = DalySimDevice(bat)
    truth = bat.truth()
    frames = [
        reply
        for cmd in (0x90, 0x93, 0x94, 0x95, 0x96)
        for reply in sim.handle_write(sim.write_uuid, daly.request(cmd))
    ]
    peer = dreadnought_daly(frames)
    assert close(peer["total_voltage"], truth.voltage_v, 0.1)
    assert close(peer["current"], -current, 0.1)  # the library's "negative = charging"
    assert peer["mode"] == ("charging" if current > 0 else "discharging")
    assert close(peer["soc_percent"], truth.soc_pct, 0.1)
    assert close(peer["capacity_ah"], truth.charge_ah, 0.001)
    assert (peer["cells"], peer["temperature_sensors"]) == (16, len(truth.temperatures_c))
    assert peer["cycles"] == truth.cycles
    cells = [peer["cell_voltages"][i + 1] for i in range(16)]
    assert cells == pytest.approx(truth.cell_voltages_v, abs=5e-4)
    temps = [peer["temperatures"][i + 1] for i in range(len(truth.temperatures_c))]
    assert temps == pytest.approx(truth.temperatures_c, abs=0.5)
    assert (peer["charging_mosfet"], peer["discharging_mosfet"]) == (
        truth.charge_enabled,
        truth.discharge_enabled,
    )
