"""The Prometheus exposition builder on plain values: names, labels, escaping, status dicts."""

from __future__ import annotations

from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.web.metrics import build_metrics


def test_families_labels_and_status_values() -> None:
    sample = BatterySample(timestamp=1.0, voltage_v=52.0, current_a=-3.5, soc_pct=77.0)
    states = [
        BatteryState(
            name='we"ird\\name',
            available=True,
            sample=sample,
            meters=Meters(charged_kwh=12.25),
            diagnostics={"samples": 10, "timeouts": 2, "errors": 3},
        ),
        BatteryState(name="bank", available=False, sample=None, is_group=True),
    ]
    links = {
        "gen24": {"state": "online", "inverter_alive": True, "reads": 41, "last_poll_age": 0.5}
    }
    sinks = {"influxdb": {"connected": False, "points_dropped": 7, "last_error": "HTTP 500"}}
    text = build_metrics(states, links, sinks)
    lines = text.splitlines()
    label = 'battery="we\\"ird\\\\name"'
    assert f"batmux_battery_soc{{{label}}} 77" in lines
    assert f"batmux_battery_current{{{label}}} -3.5" in lines
    assert f"batmux_battery_power{{{label}}} -182" in lines
    assert 'batmux_battery_online{battery="bank"} 0' in lines
    assert f"batmux_battery_charged_kwh_total{{{label}}} 12.25" in lines
    assert f"batmux_device_timeouts_total{{{label}}} 2" in lines
    assert not any(line.startswith('batmux_device_samples_total{battery="bank"') for line in lines)
    assert 'batmux_link_state_info{link="gen24",state="online"} 1' in lines
    assert 'batmux_link_inverter_alive{link="gen24"} 1' in lines
    assert 'batmux_link_reads_total{link="gen24"} 41' in lines
    assert 'batmux_sink_points_dropped_total{sink="influxdb"} 7' in lines
    assert 'batmux_sink_connected{sink="influxdb"} 0' in lines
    assert "# TYPE batmux_link_reads_total counter" in lines
    assert lines.index("# HELP batmux_battery_soc state of charge, percent") + 1 == lines.index(
        "# TYPE batmux_battery_soc gauge"
    )
    assert text.endswith("\n") and "last_error" not in text  # free text is not a metric
