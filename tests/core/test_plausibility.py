"""The bank relies on check_plausible (core/plausibility.py) to keep nonsense out of groups."""

import json

import pytest

from batmux.core.plausibility import check_plausible
from batmux.devices.registry import get_type, load
from batmux.errors import ImplausibleSample
from batmux.model.sample import BatterySample
from conftest import VECTORS
from core.bank_factory import cells, sample


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({}, None),
        ({"capacity_ah": -5.0}, "capacity"),
        ({"soc_pct": 250.0}, "SoC"),
        ({"soc_pct": -1.0}, "SoC"),
        ({"cells": cells(16, 3.3, c4=9.0)}, "cell 4"),
        ({"cells": cells(16, 3.3, c4=0.1)}, "cell 4"),
        ({"voltage_v": float("nan")}, "voltage_v"),
        ({"cells": cells(16, 3.3, c1=float("nan")), "voltage_v": 52.8}, "cell 1"),
        ({"cells": cells(16, 3.3, c9=float("nan")), "voltage_v": 52.8}, "cell 9"),
        ({"temperatures_c": (25.0, 400.0)}, "temperature"),
        ({"charge_ah": -1.0}, "remaining charge"),
        ({"current_a": float("inf")}, "current_a"),
    ],
)
def test_plausibility(changes: dict, words: str | None) -> None:
    s = sample(**changes)
    if words is None:
        check_plausible(s)
    else:
        with pytest.raises(ImplausibleSample, match=words):
            check_plausible(s)


# -- rules across fields, on samples decoded from real captures (shared/vectors/ble) ----------


def real(name: str) -> BatterySample:
    """The sample ``batmux decode`` gives for a captured vector (already plausible)."""
    vec = json.loads((VECTORS / "ble" / f"{name}.json").read_text())
    codec = load(get_type(vec["protocol"]).codec)()
    frames = [f for text in vec["frames"] for f in codec.feed(codec.parse_cli_frame(text))]
    return codec.decode(frames, 1.0)


def test_every_real_capture_is_plausible() -> None:
    names = sorted(p.stem for p in (VECTORS / "ble").glob("*.json"))
    assert len(names) >= 20
    for name in names:
        if not name.startswith("victron_smartshunt"):  # advertisements need their key
            check_plausible(real(name))


@pytest.mark.parametrize(
    ("name", "changes", "words"),
    [
        # JK02 24s capture: 52.971 V, 16 cells summing to 52.97 V, 113.245 of 202 Ah at 56 %
        ("jk02_24s_1", {"voltage_v": 51.5}, None),  # 1.5 V off: a shunt vs the cell ADC
        ("jk02_24s_1", {"voltage_v": 0.0}, "sum of its 16 cells .52.97 V.: looks like a frame"),
        ("jk02_24s_1", {"voltage_v": 62.0}, "cells missing from the report, or the wrong layout"),
        ("jk02_24s_1", {"voltage_v": 45.0}, "a corrupt value or the wrong layout"),
        ("jk02_24s_1", {"soc_pct": 60.0}, None),
        ("jk02_24s_1", {"soc_pct": 90.0}, "SoC 90 % disagrees with 113.245 Ah of 202 Ah .56 %."),
        ("jk02_24s_1", {"soh_pct": 100.0}, None),
        ("jk02_24s_1", {"soh_pct": 255.0}, "SoH 255 % is outside 0..100"),
        ("jk02_24s_1", {"capacity_ah": 1_036_901.0}, "beyond any bank"),
        # 202 Ah: 10 C is 2020 A
        ("jk02_24s_1", {"current_a": -1500.0}, None),
        ("jk02_24s_1", {"current_a": -2500.0}, "more than a 202 Ah pack can carry .2020 A."),
        ("jk02_24s_1", {"current_a": 2.1e6}, "current 2.1e.06 A is more than a 202 Ah pack"),
        ("jk02_24s_1", {"power_w": 1.5e6}, "power 1.5e.06 W at 52.971 V .28317 A. is more than"),
        # SOK capture: 106.048 Ah left of a 100 Ah rating at 99 % — a real BMS, inside the margin
        ("sok_1", {}, None),
        ("sok_1", {"charge_ah": 120.0}, "remaining charge 120 Ah is above the full capacity 100"),
        # JBD capture: a 5 Ah pack; the 100 A floor keeps small or unset capacities usable
        ("jbd_1", {"current_a": -100.0}, None),
        ("jbd_1", {"current_a": -150.0}, "more than a 5 Ah pack can carry .100 A."),
        # Daly capture without capacity: only the absolute 5 kA bound applies
        ("daly_2", {"current_a": -4000.0}, None),
        ("daly_2", {"current_a": 6000.0}, "beyond any battery .5000 A."),
    ],
)
def test_rules_across_fields(name: str, changes: dict, words: str | None) -> None:
    s = real(name).with_(**changes)
    if words is None:
        check_plausible(s)
    else:
        with pytest.raises(ImplausibleSample, match=words):
            check_plausible(s)


def test_a_pack_that_reports_some_of_its_cells_says_how_many() -> None:
    daly = real("daly_2")  # 16 cells, 53.2 V, extra cell_count 16
    partial = daly.with_(cell_voltages_v=daly.cell_voltages_v[:12])
    check_plausible(partial)  # 12 of the declared 16 cells arrived
    undeclared = partial.with_(extra={})
    with pytest.raises(ImplausibleSample, match="cells missing from the report"):
        check_plausible(undeclared)


def test_a_parallel_group_lists_the_cells_of_every_string() -> None:
    ant = real("ant_1")  # 16 cells, 52.84 V
    group = ant.with_(cell_voltages_v=ant.cell_voltages_v * 2)  # two packs in parallel
    check_plausible(group)
    with pytest.raises(ImplausibleSample, match="32 cells"):
        check_plausible(group.with_(voltage_v=80.0))


def test_a_one_amp_hour_test_pack_is_not_rejected_for_rounding() -> None:
    # aiobmsble's E&J test reply: 0.2 Ah of 1 Ah at 1 % (0.1 Ah steps make 20 points)
    check_plausible(real("supervolt_1"))


def test_a_verdict_is_remembered_only_for_plausible_samples() -> None:
    """A sample is checked up to three times (codec, calibration, bank engine); the repeats of
    a plausible one are free, an implausible one is refused every time, and the memory of
    verdicts stays bounded."""
    from batmux.core import plausibility

    bad = sample(soc_pct=250.0)
    for _ in range(2):
        with pytest.raises(ImplausibleSample, match="SoC"):
            check_plausible(bad)
    assert id(bad) not in plausibility._PASSED
    good = sample()
    check_plausible(good)
    assert plausibility._PASSED[id(good)] is good
    for i in range(plausibility._PASSED_MAX + 10):
        check_plausible(sample(soc_pct=float(i % 100)))
    assert len(plausibility._PASSED) <= plausibility._PASSED_MAX
    kept = [sample(soc_pct=float(i)) for i in range(20)]
    for one in kept:
        check_plausible(one)
    assert all(plausibility._PASSED[id(one)] is one for one in kept)
    ids = [id(one) for one in kept]
    del one
    kept.clear()  # a verdict does not keep its sample alive: it goes with it
    assert not any(i in plausibility._PASSED for i in ids)
    assert plausibility._PASSED[id(good)] is good
