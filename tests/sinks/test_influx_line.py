"""Line protocol of published states, and the bounded, ordered, on-disk line buffer."""

from __future__ import annotations

from pathlib import Path

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState, Meters
from batmux.sinks.influx_line import escape_tag, field_value, round_lines, state_line
from batmux.sinks.line_buffer import LineBuffer


def test_a_state_becomes_one_line_with_its_values() -> None:
    sample = BatterySample(
        timestamp=1.0,
        voltage_v=26.5,
        current_a=-4.0,
        soc_pct=80,
        cell_voltages_v=(3.31, 3.33),
        temperatures_c=(20.5,),
        balancing=True,
    )
    state = BatteryState(
        name="shed",
        available=True,
        sample=sample,
        meters=Meters(charged_kwh=1.5, discharged_kwh=0.25),
        limits=ChargeLimits(charge_voltage_v=28.4, charge_current_a=50, discharge_current_a=100),
    )
    line = state_line(state, "battery", 1_700_000_000_123)
    head, fields, t = line.split(" ")
    assert head == "battery,battery=shed" and t == "1700000000123"
    values = dict(f.split("=") for f in fields.split(","))
    assert values["soc"] == "80.0"  # an int becomes a float: a field's type never changes
    assert values["voltage"] == "26.5" and values["current"] == "-4.0"
    assert values["power"] == "-106.0"
    assert values["cell1"] == "3.31" and values["cell2"] == "3.33"
    assert values["cell_delta"] == "0.02" and values["temp1"] == "20.5"
    assert values["balancing"] == "true" and values["online"] == "true"
    assert values["charged_kwh"] == "1.5" and values["charge_current_limit"] == "50.0"
    assert "charge" not in values  # unknown values are left out, not written as 0


def test_an_offline_battery_before_its_first_sample_still_leaves_a_point() -> None:
    lines = round_lines([BatteryState(name="x", available=False, sample=None)], "b", 2.5)
    assert lines == ["b,battery=x online=false,charged_kwh=0.0,discharged_kwh=0.0 2500"]


def test_escaping() -> None:
    assert escape_tag("a b,c=d") == r"a\ b\,c\=d"
    assert field_value('say "hi"') == r'"say \"hi\""'
    assert field_value(float("nan")) is None and field_value(None) is None
    state = BatteryState(name="a b", available=False, sample=None)
    assert state_line(state, "my m,x", 1).startswith(r"my\ m\,x,battery=a\ b ")


def test_buffer_is_bounded_counts_drops_and_replays_in_order(tmp_path: Path) -> None:
    buffer = LineBuffer(tmp_path, max_points=5)
    for i in range(4):
        buffer.append([f"m v={i}a", f"m v={i}b"])
    assert buffer.points == 4 and buffer.dropped == 4  # 8 lines, bound 5: two oldest batches
    buffer.persist()
    again = LineBuffer(tmp_path, max_points=5)  # a restart reads the segments back in order
    count, lines = again.head(max_lines=3)
    assert (count, lines) == (1, ["m v=2a", "m v=2b"])  # whole batches only
    count, lines = again.head(max_lines=100)
    assert lines == ["m v=2a", "m v=2b", "m v=3a", "m v=3b"]
    again.pop(1)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["000000000004.json"]
    again.append(["m v=4a"])
    assert again.head(100)[1] == ["m v=3a", "m v=3b", "m v=4a"]


def test_a_torn_or_foreign_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "000000000001.json").write_text('["m v=1')  # no valid JSON
    (tmp_path / "000000000002.json").write_text('["m v=2"]')
    buffer = LineBuffer(tmp_path, max_points=10)
    assert buffer.head(10)[1] == ["m v=2"]
    buffer.append(["m v=3"])
    assert buffer.batches[-1].seq == 3
