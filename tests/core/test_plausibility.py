import pytest
from bank_factory import cells, sample

from batmux.core.plausibility import PlausibilityCounter, check_plausible, plausibility_problem
from batmux.errors import ImplausibleSample


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"capacity_ah": -5.0}, "negative capacity"),
        ({"soc_pct": 250.0}, "soc outside"),
        ({"soc_pct": -1.0}, "soc outside"),
        ({"cells": cells(16, 3.3, c4=9.0)}, "cell voltage outside"),
        ({"cells": cells(16, 3.3, c4=0.1)}, "cell voltage outside"),
        ({"voltage_v": float("nan")}, "voltage_v is not a number"),
        ({"cells": cells(16, 3.3, c1=float("nan"))}, "not a number"),
        ({"temperatures_c": (25.0, 400.0)}, "temperature outside"),
        ({"charge_ah": -1.0}, "negative remaining charge"),
        ({"current_a": float("inf")}, "current_a is not a number"),
    ],
)
def test_plausibility(changes: dict, reason: str | None) -> None:
    s = sample(**changes)
    found = plausibility_problem(s)
    if reason is None:
        assert found is None
        check_plausible(s)
    else:
        assert found is not None and reason in found
        with pytest.raises(ImplausibleSample, match=reason):
            check_plausible(s)


def test_counter_counts_reasons() -> None:
    counter = PlausibilityCounter()
    assert counter.accept(sample())
    assert not counter.accept(sample(soc_pct=250.0))
    assert not counter.accept(sample(soc_pct=300.0))
    assert counter.rejected == {"soc outside 0..100 %": 2}
