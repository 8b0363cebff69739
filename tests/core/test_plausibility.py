"""The bank relies on check_plausible (core/plausibility.py) to keep nonsense out of groups."""

import pytest

from batmux.core.plausibility import check_plausible
from batmux.errors import ImplausibleSample
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
