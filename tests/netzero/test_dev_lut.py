"""Power LUT: homebattery's `percent;watts` semantics, and bad files caught when building."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from batmux.netzero.device_config import InverterEntry
from batmux.netzero.devices import build_inverter
from batmux.netzero.lut import LutError, parse_lut
from netzero.nz_helpers import JumpClock

HM600 = """# HM-600 measured at the socket, 52 V battery
3;20

10;61   # the inverter's own reading said 58 W
50;302
100;600
"""


def test_get_percent_picks_the_largest_entry_not_above_the_wanted_watts() -> None:
    lut = parse_lut(HM600)
    assert (lut.min_power_w, lut.max_power_w) == (20, 600)
    assert lut.get_percent(61) == 10
    assert lut.get_percent(301) == 10  # 302 W needs 50 %: stay below rather than export
    assert lut.get_percent(302) == 50
    assert lut.get_percent(5) == 3  # clamped to the table's minimum
    assert lut.get_percent(900) == 100  # and to its maximum
    assert lut.get_watts(30) == pytest.approx(61 + (302 - 61) * 20 / 40)


def test_leaving_entries_out_sets_min_and_max_power() -> None:
    lut = parse_lut("10;61\n50;302\n")
    assert (lut.min_power_w, lut.max_power_w) == (61, 302)
    assert lut.get_percent(600) == 50


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("3;20\n10-61\n", 2, "expected 'percent;watts'"),
        ("3;20\n\n10;sixty\n", 3, "not numbers"),
        ("3;20\n150;700\n", 2, "0..100"),
        ("10;61\n3;20\n", 2, "must rise"),
        ("# only a comment\n", None, "no 'percent;watts' lines"),
    ],
)
def test_bad_lines_name_file_and_line(text: str, line: int | None, why: str) -> None:
    with pytest.raises(LutError) as info:
        parse_lut(text, "hm600.lut")
    message = str(info.value)
    assert message.startswith(f"hm600.lut:{line}: " if line else "hm600.lut: ")
    assert why in message and "\n" not in message


async def test_build_inverter_reads_the_lut_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "hm600.lut").write_text(HM600)
    entry = InverterEntry(
        type="ahoydtu", url="http://127.0.0.1:9", max_power=800, power_lut="hm600.lut"
    )
    async with aiohttp.ClientSession() as session:
        inverter = build_inverter(entry, config_dir=tmp_path, clock=JumpClock(), session=session)
        assert (inverter.min_power_w, inverter.max_power_w) == (20, 600)  # the LUT caps 800
        (tmp_path / "bad.lut").write_text("3;20\n10;x\n")
        bad = entry.model_copy(update={"power_lut": "bad.lut"})
        with pytest.raises(LutError, match=r"bad\.lut:2: not numbers"):
            build_inverter(bad, config_dir=tmp_path, clock=JumpClock(), session=session)
        missing = entry.model_copy(update={"power_lut": "nope.lut"})
        with pytest.raises(LutError, match="cannot read the power LUT"):
            build_inverter(missing, config_dir=tmp_path, clock=JumpClock(), session=session)


async def test_without_a_lut_the_limit_is_linear() -> None:
    entry = InverterEntry(type="ahoydtu", url="http://127.0.0.1:9", max_power=600)
    async with aiohttp.ClientSession() as session:
        inverter = build_inverter(entry, config_dir=Path("."), clock=JumpClock(), session=session)
    assert inverter.percent_for(150) == 25.0  # type: ignore[attr-defined]
    assert inverter.percent_for(1000) == 100.0  # type: ignore[attr-defined]
    assert inverter.min_power_w == 0
