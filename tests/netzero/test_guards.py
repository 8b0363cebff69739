"""Each guard: the inverter (or charger) is stopped within its bound and recovers with
hysteresis. Bounds (docs/netzero.md): a lock acts on the next controller tick, and the device's
switch-off goes out on its next 1 s TX cycle ahead of any pending command, so the inverter is
off within 2 s of the lock (plus the guard's own time for the time-based ones)."""

from __future__ import annotations

from dataclasses import replace

from netzero.nz_helpers import HEALTHY, Rig


def _running(mode: str = "discharge") -> Rig:
    rig = Rig(load_w=400.0, mode=mode)
    rig.run(40)
    if mode == "discharge":
        assert rig.ac_w() > 300
    return rig


def _locks(rig: Rig) -> list[str]:
    return rig.runner.state()["locks"]


def _released(rig: Rig) -> None:
    assert _locks(rig) == []
    rig.seconds_until(lambda: rig.ac_w() > 300, limit=60)


def test_cell_low_locks_the_inverter_and_releases_past_its_hysteresis() -> None:
    rig = _running()
    rig.battery = replace(HEALTHY, cell_min_v=3.05)
    assert rig.seconds_until(lambda: rig.ac_w() == 0.0) <= 2
    assert _locks(rig) == ["cell_low: 3.050 V (locks below 3.1 V)"]
    rig.battery = replace(HEALTHY, cell_min_v=3.15)  # above the limit, inside the hysteresis
    rig.run(30)
    assert rig.ac_w() == 0.0 and len(_locks(rig)) == 1
    rig.battery = replace(HEALTHY, cell_min_v=3.21)
    rig.second()
    _released(rig)


def test_cell_high_locks_the_charger_and_releases_past_its_hysteresis() -> None:
    rig = _running("charge")
    assert rig.relay.on
    rig.battery = replace(HEALTHY, cell_max_v=3.66)
    rig.second()
    assert not rig.relay.on
    assert _locks(rig) == ["cell_high: 3.660 V (locks above 3.65 V)"]
    rig.battery = replace(HEALTHY, cell_max_v=3.50)
    rig.run(5)
    assert not rig.relay.on
    rig.battery = replace(HEALTHY, cell_max_v=3.44)
    rig.second()
    assert rig.relay.on and _locks(rig) == []


def test_discharge_temperature_window() -> None:
    rig = _running()
    rig.battery = replace(HEALTHY, temp_min_c=-1.0)
    assert rig.seconds_until(lambda: rig.ac_w() == 0.0) <= 2
    assert _locks(rig) == [
        "temp_charge: -1.0..22.0 °C outside 5..40 °C",  # too cold to charge as well
        "temp_discharge: -1.0..22.0 °C outside 0..40 °C",
    ]
    rig.battery = replace(HEALTHY, temp_min_c=1.0)  # inside 0..40 but not 2 °C in
    rig.run(10)
    assert rig.ac_w() == 0.0
    rig.battery = replace(HEALTHY, temp_min_c=2.5)
    rig.second()
    assert _locks(rig) == ["temp_charge: 2.5..22.0 °C outside 5..40 °C"]  # the inverter may run
    rig.seconds_until(lambda: rig.ac_w() > 300, limit=60)


def test_charge_temperature_window_and_hot_pack() -> None:
    rig = _running("charge")
    rig.battery = replace(HEALTHY, temp_min_c=4.0)
    rig.second()
    assert not rig.relay.on
    assert _locks(rig) == ["temp_charge: 4.0..22.0 °C outside 5..40 °C"]
    rig.battery = replace(HEALTHY, temp_min_c=6.0)
    rig.run(3)
    assert not rig.relay.on
    rig.battery = replace(HEALTHY, temp_min_c=7.5)
    rig.second()
    assert rig.relay.on
    rig.battery = replace(HEALTHY, temp_max_c=41.0)
    rig.second()
    assert not rig.relay.on  # too hot to charge, and to discharge too
    assert [lock.split(":")[0] for lock in _locks(rig)] == ["temp_charge", "temp_discharge"]


def test_stale_battery_locks_everything() -> None:
    rig = _running()
    rig.battery = replace(HEALTHY, age_s=11.0)  # batmux's stale_after is 10 s
    assert rig.seconds_until(lambda: rig.ac_w() == 0.0) <= 2
    assert _locks(rig) == ["battery_offline: no fresh battery data for 11 s"]
    rig.battery = replace(HEALTHY, age_s=None)  # never seen (offline): stays locked
    rig.run(3)
    assert rig.ac_w() == 0.0
    rig.battery = HEALTHY
    rig.second()
    _released(rig)


def test_lost_meter_locks_the_inverter_after_60_s() -> None:
    rig = _running()
    rig.meter_on = False
    took = rig.seconds_until(lambda: rig.ac_w() == 0.0, limit=90)
    assert 59 <= took <= 62
    assert _locks(rig) == ["live_data_lost: no consumption value for 61 s"]
    rig.meter_on = True
    rig.second()
    _released(rig)


def test_lost_mqtt_locks_after_60_s() -> None:
    rig = _running()
    rig.runner.mqtt_up(False)
    took = rig.seconds_until(lambda: rig.ac_w() == 0.0, limit=90)
    assert 59 <= took <= 62
    assert _locks(rig)[0].startswith("mqtt_offline: broker unreachable for 6")
    rig.runner.mqtt_up(True)
    rig.second()
    _released(rig)


def test_zero_dcl_locks_the_inverter() -> None:
    rig = _running()
    rig.battery = replace(HEALTHY, dcl_a=0.0)
    assert rig.seconds_until(lambda: rig.ac_w() == 0.0) <= 2
    assert _locks(rig) == ["discharge_limit: DCL is 0 A"]
    rig.battery = replace(HEALTHY, dcl_a=2.0)  # 104 W allowed
    rig.run(40)
    assert 50 <= rig.ac_w() <= 104
