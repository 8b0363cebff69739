"""The controller on a model inverter with an injected clock: regulation, modes, distribution."""

from __future__ import annotations

from batmux.netzero.controller import Controller, InverterSpec, Settings, distribute
from batmux.netzero.ports import DeviceStatus, InverterState, PowerReading
from netzero.nz_helpers import Rig


def test_holds_the_grid_near_target_after_a_load_step() -> None:
    rig = Rig(load_w=400.0)
    rig.run(60)
    assert 10 <= rig.grid_w() <= 35  # target 10 W, band 20 W, LUT steps of 6 W
    rig.load_w = 150.0  # the kettle went off: export until the lower limit applies
    took = rig.seconds_until(lambda: rig.grid_w() >= -10)
    assert took <= 12  # 2 readings + 1 s TX cycle + the inverter's 8 s delay
    rig.run(40)
    assert 10 <= rig.grid_w() <= 35


def test_no_command_for_a_reading_inside_the_band() -> None:
    rig = Rig(load_w=300.0)
    rig.run(60)
    before = rig.inverter.commands
    rig.run(60)
    assert rig.inverter.commands == before


def test_one_short_dip_is_not_answered() -> None:
    rig = Rig(load_w=300.0)
    rig.run(60)
    before = rig.inverter.commands
    rig.load_w -= 40  # one reading 40 W lower: noise, not a reason for two commands
    rig.second()
    rig.load_w += 40
    rig.run(10)
    assert rig.inverter.commands == before


def test_modes_idle_protect_and_charge_stop_the_inverter() -> None:
    for mode in ("idle", "protect", "charge"):
        rig = Rig(load_w=300.0)
        rig.run(40)
        assert rig.ac_w() > 200
        assert rig.runner.set_mode(mode)
        took = rig.seconds_until(lambda r=rig: r.ac_w() == 0.0)
        assert took <= 2, mode
        assert rig.relay.on is (mode == "charge")
        assert rig.runner.state()["mode"] == mode


def test_unknown_mode_is_ignored() -> None:
    rig = Rig()
    assert not rig.runner.set_mode("grid")
    assert rig.runner.mode == "discharge"


def test_distribution_in_proportion_to_max_power_and_minimums() -> None:
    specs = [InverterSpec("a", 600, 30), InverterSpec("b", 300, 30)]
    assert distribute(450, specs) == {"a": 300, "b": 150}
    assert distribute(2000, specs) == {"a": 600, "b": 300}
    assert distribute(60, specs) == {"a": 60, "b": 0}  # b's share (20 W) is below its minimum
    assert distribute(20, specs) == {"a": 0, "b": 0}
    assert distribute(-5, specs) == {"a": 0, "b": 0}


def test_dcl_caps_the_inverters() -> None:
    ctl = Controller(Settings(), [InverterSpec("a", 600)])
    ctl.total_w = 500
    state = {"a": InverterState(DeviceStatus.ON, 500, 500)}
    plan = ctl.step(10.0, PowerReading(300, 10.0), state, dcl_w=200)
    assert plan.inverters == {"a": 200}
    assert plan.reason == "DCL cap 200 W"


def test_unsigned_meter_at_zero_steps_down() -> None:
    ctl = Controller(Settings(signed=False), [InverterSpec("a", 600)])
    ctl.total_w = 400
    state = {"a": InverterState(DeviceStatus.ON, 400, 400)}
    plan = ctl.step(10.0, PowerReading(0.0, 10.0), state)
    assert plan.inverters == {"a": 320}  # 20 % of 400 W (more than the 50 W minimum step)
    assert plan.reason == "export 0 W"


def test_surplus_switches_the_grid_charger_on_and_import_off() -> None:
    rig = Rig(load_w=-500.0)  # solar behind the meter: 500 W of export, inverter at 0 W
    took = rig.seconds_until(lambda: rig.relay.on, limit=60)
    assert 29 <= took <= 33
    assert rig.ac_w() == 0.0 and rig.grid_w() == -200.0
    rig.run(30)
    assert rig.relay.on  # still exporting with the charger on: stays on
    rig.load_w = 0.0  # the sun went: 300 W import with the charger on
    rig.second()
    assert not rig.relay.on


def test_an_offline_inverter_gets_0_w_and_the_others_take_its_share() -> None:
    specs = [InverterSpec("a", 600), InverterSpec("b", 300)]
    ctl = Controller(Settings(), specs)
    ctl.total_w = 450
    states = {
        "a": InverterState(DeviceStatus.ON, 300, 300),
        "b": InverterState(DeviceStatus.OFFLINE, None, None, "the DTU cannot reach the inverter"),
    }
    plan = ctl.step(10.0, PowerReading(160, 10.0), states)
    assert plan.inverters == {"a": 450, "b": 0.0}
    states["b"] = InverterState(DeviceStatus.FAULT, None, None, "limit failed 3×")
    ctl.total_w = 800
    assert ctl.step(11.0, PowerReading(160, 11.0), states).inverters == {"a": 600, "b": 0.0}
