"""The simulators' frames (Daly, Daly D2, ANT, JBD, SOK, Supervolt, SmartShunt GATT and
Instant Readout, VE.Direct text), decoded with other projects' arithmetic
(tests/peer_decoders.py), carry the simulated battery's values: the simulators agree with the
field, not only with batmux's own codecs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batmux.protocols import ant, daly, jbd, sok, supervolt
from batmux.protocols import daly_modbus as dm
from batmux.protocols import victron_gatt as vg
from batmux.sim.ant import AntSimDevice
from batmux.sim.daly import DalySimDevice
from batmux.sim.daly_modbus import DalyModbusSimDevice
from batmux.sim.jbd import JbdSimDevice
from batmux.sim.sok import SokSimDevice
from batmux.sim.supervolt import SupervoltSimDevice
from batmux.sim.vedirect import VeDirectSimDevice
from batmux.sim.victron_smartshunt import SIM_KEY, VictronSimDevice
from ble_sim import battery
from peer_decoders import (
    aiobmsble_abc,
    aiobmsble_ant,
    aiobmsble_daly,
    aiobmsble_ej,
    aiobmsble_jbd,
    batmon_victron_gatt,
    dreadnought_daly,
    mpp_solar_ved,
    vedirect_text_blocks,
    victron_ble_battery_monitor,
)


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


def switches(truth: object) -> tuple[bool, bool]:
    return truth.charge_enabled, truth.discharge_enabled  # type: ignore[attr-defined]


def open_idle_switch(bat: object, current: float) -> tuple[bool, bool]:
    """Turn off the MOSFET the current does not flow through; the (charge, discharge) pair."""
    if current < 0:
        bat.charge_enabled = False  # type: ignore[attr-defined]
    else:
        bat.discharge_enabled = False  # type: ignore[attr-defined]
    return current > 0, current < 0


@pytest.mark.parametrize("current", [-12.3, 6.78])
def test_jbd_sim_in_aiobmsble(current: float) -> None:
    bat = battery(cells=16, current=current)
    fets = open_idle_switch(bat, current)
    sim = JbdSimDevice(bat)
    truth = bat.truth()
    (basic,) = sim.handle_write(sim.write_uuid, jbd.request(jbd.REG_BASIC))
    (cells,) = sim.handle_write(sim.write_uuid, jbd.request(jbd.REG_CELLS))
    peer = aiobmsble_jbd(basic, cells)
    assert close(peer["voltage"], truth.voltage_v, 0.01)
    assert close(peer["current"], current, 0.01)  # aiobmsble: positive = charging
    assert close(peer["cycle_charge"], truth.charge_ah, 0.01)
    assert peer["design_capacity"] == int(truth.capacity_ah)
    assert peer["cycles"] == truth.cycles
    assert peer["battery_level"] == round(truth.soc_pct)
    assert peer["problem_code"] == 0
    assert (peer["chrg_mosfet"], peer["dischrg_mosfet"]) == switches(truth) == fets
    assert peer["cell_voltages"] == pytest.approx(truth.cell_voltages_v, abs=5e-4)
    assert peer["temp_values"] == pytest.approx(truth.temperatures_c, abs=0.05)


@pytest.mark.parametrize(("cells", "current"), [(16, -23.456), (8, 4.5)])
def test_sok_sim_in_aiobmsble_abc(cells: int, current: float) -> None:
    bat = battery(cells=cells, current=current)
    fets = open_idle_switch(bat, current)
    sim = SokSimDevice(bat)
    truth = bat.truth()
    frames = [
        f for cmd in (0xC1, 0xC2, 0xC4) for f in sim.handle_write(sim.write_uuid, sok.request(cmd))
    ]
    peer = aiobmsble_abc(frames)
    assert close(peer["voltage"], truth.voltage_v, 0.001)
    assert close(peer["current"], current, 0.001)  # aiobmsble: positive = charging
    assert peer["design_capacity"] == int(truth.capacity_ah)
    assert close(peer["cycle_charge"], truth.charge_ah, 0.001)
    assert peer["cycles"] == truth.cycles
    assert peer["battery_level"] == round(truth.soc_pct)
    assert (peer["chrg_mosfet"], peer["dischrg_mosfet"]) == switches(truth) == fets
    assert peer["temp_values"] == pytest.approx(truth.temperatures_c, abs=0.5)
    assert peer["balancer"] == int(truth.balancing)
    assert peer["cell_voltages"] == pytest.approx(truth.cell_voltages_v, abs=5e-4)


@pytest.mark.parametrize(("single", "current"), [(False, -12.34), (False, 3.21), (True, -7.5)])
def test_supervolt_sim_in_aiobmsble_ej(single: bool, current: float) -> None:
    bat = battery(cells=4, current=current)
    sim = SupervoltSimDevice(bat, single_frame=single)
    truth = bat.truth()
    (rt,) = sim.handle_write(sim.write_uuid, supervolt.REQUEST_REALTIME)
    cap = None if single else sim.handle_write(sim.write_uuid, supervolt.REQUEST_CAPACITY)[0]
    peer = aiobmsble_ej(rt, cap)
    assert close(peer["current"], current, 0.01)  # charge − discharge: positive = charging
    assert close(peer["voltage"], truth.voltage_v, 0.004)  # sum of 4 mV-rounded cells
    assert peer["cell_voltages"] == pytest.approx(truth.cell_voltages_v, abs=5e-4)
    assert peer["battery_level"] == round(truth.soc_pct)
    assert close(peer["cycle_charge"], truth.charge_ah, 0.1)
    assert peer["temp_values"] == pytest.approx(truth.temperatures_c[:1], abs=0.5)
    assert peer["cycles"] == truth.cycles
    assert peer["problem_code"] == 0
    assert (peer["chrg_mosfet"], peer["dischrg_mosfet"]) == switches(truth)
    if single:
        assert peer["design_capacity"] == int(truth.capacity_ah)


@pytest.mark.parametrize("current", [-12.345, 8.0])
def test_smartshunt_advertisement_in_victron_ble(current: float) -> None:
    bat = battery(cells=4, current=current, soc=63.7)
    sim = VictronSimDevice(bat)
    truth = bat.truth()
    peer = victron_ble_battery_monitor(sim.advertisement(), SIM_KEY)
    assert peer["readout_type"] == 0x02  # battery monitor record
    assert close(peer["voltage"], truth.voltage_v, 0.01)
    assert close(peer["current"], current, 0.001)  # Victron: positive = charging
    assert close(peer["soc"], truth.soc_pct, 0.1)
    assert close(peer["consumed_ah"], truth.charge_ah - truth.capacity_ah, 0.1)
    assert peer["alarm"] == 0


def test_smartshunt_advertisement_counter_changes_the_ciphertext() -> None:
    sim = VictronSimDevice(battery(cells=4, current=-2.0))
    first, second = sim.advertisement(), sim.advertisement()
    assert first[5:7] != second[5:7] and first[8:] != second[8:]
    a, b = (victron_ble_battery_monitor(p, SIM_KEY) for p in (first, second))
    assert a["voltage"] == b["voltage"] and a["current"] == b["current"]


@pytest.mark.parametrize("current", [-12.345, 8.0])
def test_smartshunt_gatt_in_batmon(current: float) -> None:
    bat = battery(cells=4, current=current, soc=63.7)
    sim = VictronSimDevice(bat)
    truth = bat.truth()
    reads = {g.uuid[:8]: sim.handle_read(g.uuid) for g in vg.GATT_VALUES}
    peer = batmon_victron_gatt(reads)
    assert close(peer["voltage"], truth.voltage_v, 0.01)
    assert close(-peer["current"], current, 0.001)  # batmon: positive = discharging
    assert close(-peer["power"], truth.power_w, 1)
    assert close(peer["soc"], truth.soc_pct, 0.01)
    assert close(peer["charge"], truth.charge_ah - truth.capacity_ah, 0.1)


@pytest.mark.parametrize("current", [-12.345, 8.0])
def test_vedirect_sim_in_mpp_solar(current: float) -> None:
    bat = battery(cells=4, current=current, soc=63.7)
    sim = VeDirectSimDevice(bat, hex_every=0)
    stream = sim.next_output()
    truth = bat.truth()
    blocks = vedirect_text_blocks(stream)
    assert len(blocks) == 2  # both blocks' checksums add up
    peer = mpp_solar_ved(blocks[0] | blocks[1])
    assert close(peer["V"], truth.voltage_v, 0.001)
    assert close(peer["I"], current, 0.001)  # VE.Direct: positive = charging
    assert close(peer["P"], truth.power_w, 1)
    assert close(peer["SOC"], bat.soc_pct, 0.1)  # 0.1 % steps, finer than truth's whole %
    assert close(peer["CE"], truth.charge_ah - truth.capacity_ah, 0.001)
    assert peer["H4"] == str(truth.cycles)
    assert peer["TTG"] == (round(truth.charge_ah / -current * 60) if current < 0 else -1)


def test_vedirect_corrupt_block_fails_the_documented_checksum() -> None:
    sim = VeDirectSimDevice(battery(cells=4), hex_every=0)
    sim.corrupt_next = 1
    assert len(vedirect_text_blocks(sim.next_output())) == 1


def test_victron_ble_helper_reads_the_peers_own_capture() -> None:
    """The helper against keshavdv/victron-ble tests/test_battery_monitor.py's real payload
    and key (its expected values), so the sim checks above rest on a decoder that reads a
    real SmartShunt."""
    payload = bytes.fromhex("100289a302b040af925d09a4d89aa0128bdef48c6298a9")
    peer = victron_ble_battery_monitor(payload, bytes.fromhex("aff4d0995b7d1e176c0c33ecb9e70dcd"))
    assert (peer["voltage"], peer["current"], peer["soc"], peer["consumed_ah"]) == (
        12.53,
        0.0,
        50.0,
        -50.0,
    )
    assert (peer["model_id"], peer["remaining_mins"], peer["alarm"]) == (0xA389, None, 0)


PEER_VECTORS = Path(__file__).parent.parent / "vectors" / "peers"
# helper key → the batmux decode field the peer vectors' "expected" uses
AS_DECODE = {
    "voltage": "voltage",
    "current": "current",
    "battery_level": "soc",
    "cycle_charge": "charge",
    "design_capacity": "capacity",
    "cycles": "cycles",
    "cell_voltages": "cell_voltages",
    "temp_values": "temperatures",
    "chrg_mosfet": "charge_enabled",
    "dischrg_mosfet": "discharge_enabled",
    "V": "voltage",
    "I": "current",
    "P": "power",
    "SOC": "soc",
    "CE": "consumed_ah",
}


def _ved(frames: list[bytes]) -> dict[str, object]:
    fields: dict[str, str] = {}
    for block in vedirect_text_blocks(b"".join(frames)):
        fields |= block
    return mpp_solar_ved(fields)


HELPERS = {
    "jbd/batmon_ha_8s_560ah_discharging.json": lambda f: aiobmsble_jbd(*f),
    "jbd/esphome_readme_mosfet_software_lock.json": lambda f: aiobmsble_jbd(*f),
    "sok/markwilkie_sokdump_12v_100ah.json": aiobmsble_abc,
    "supervolt/aiobmsble_ej_single_frame_4s.json": lambda f: aiobmsble_ej(f[0]),
    "vedirect/mpp_solar_smartshunt_text.json": _ved,
}


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_peer_helpers_read_real_captures(name: str) -> None:
    """The helpers used above agree with real captures' expected values (peer vectors,
    checked by other decoders), so a sim passing through them is checked against the field."""
    vector = json.loads((PEER_VECTORS / name).read_text())
    peer = HELPERS[name]([bytes.fromhex(h) for h in vector["frames"]])
    expected = vector["expected"]
    compared = 0
    for key, value in peer.items():
        field = AS_DECODE.get(key)
        if field is None or expected.get(field) is None:
            continue
        want = expected[field]
        assert value == pytest.approx(want, abs=1e-3), (key, value, want)
        compared += 1
    assert compared >= 5
