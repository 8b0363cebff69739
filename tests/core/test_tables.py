import pytest

from batmux.core import tables as t

CASES = [
    # table, input, expected fraction
    (t.CHARGE_CELL_VOLTAGE, 3.30, 1.0),
    (t.CHARGE_CELL_VOLTAGE, 3.375, 1.0),
    (t.CHARGE_CELL_VOLTAGE, 3.40, 0.25),
    (t.CHARGE_CELL_VOLTAGE, 3.3875, 0.625),
    (t.CHARGE_CELL_VOLTAGE, 3.425, 0.05),
    (t.CHARGE_CELL_VOLTAGE, 3.45, 0.005),
    (t.CHARGE_CELL_VOLTAGE, 3.50, 0.0),
    (t.CHARGE_CELL_VOLTAGE, 3.65, 0.0),
    (t.DISCHARGE_CELL_VOLTAGE, 3.30, 1.0),
    (t.DISCHARGE_CELL_VOLTAGE, 3.19, 1.0),
    (t.DISCHARGE_CELL_VOLTAGE, 3.10, 0.25),
    (t.DISCHARGE_CELL_VOLTAGE, 3.00, 0.05),
    (t.DISCHARGE_CELL_VOLTAGE, 2.90, 0.005),
    (t.DISCHARGE_CELL_VOLTAGE, 2.80, 0.0),
    (t.DISCHARGE_CELL_VOLTAGE, 2.50, 0.0),
    (t.CHARGE_TEMPERATURE, -5, 0.0),
    (t.CHARGE_TEMPERATURE, 0, 0.0),
    (t.CHARGE_TEMPERATURE, 1, 0.125),
    (t.CHARGE_TEMPERATURE, 2, 0.25),
    (t.CHARGE_TEMPERATURE, 5, 0.5),
    (t.CHARGE_TEMPERATURE, 10, 1.0),
    (t.CHARGE_TEMPERATURE, 25, 1.0),
    (t.CHARGE_TEMPERATURE, 40, 1.0),
    (t.CHARGE_TEMPERATURE, 45, 0.5),
    (t.CHARGE_TEMPERATURE, 50, 0.25),
    (t.CHARGE_TEMPERATURE, 55, 0.0),
    (t.CHARGE_TEMPERATURE, 70, 0.0),
    (t.DISCHARGE_TEMPERATURE, -20, 0.0),
    (t.DISCHARGE_TEMPERATURE, -10, 0.0),
    (t.DISCHARGE_TEMPERATURE, -5, 0.125),
    (t.DISCHARGE_TEMPERATURE, 0, 0.25),
    (t.DISCHARGE_TEMPERATURE, 5, 0.5),
    (t.DISCHARGE_TEMPERATURE, 10, 1.0),
    (t.DISCHARGE_TEMPERATURE, 45, 0.5),
    (t.DISCHARGE_TEMPERATURE, 55, 0.0),
    (t.MOS_TEMPERATURE, 60, 1.0),
    (t.MOS_TEMPERATURE, 80, 0.25),
    (t.MOS_TEMPERATURE, 90, 0.0),
    (t.CHARGE_SOC, 50, 1.0),
    (t.CHARGE_SOC, 95, 0.2),
    (t.CHARGE_SOC, 100, 0.1),
    (t.DISCHARGE_SOC, 0, 0.1),
    (t.DISCHARGE_SOC, 15, 0.5),
    (t.DISCHARGE_SOC, 50, 1.0),
]


@pytest.mark.parametrize(("table", "x", "expected"), CASES)
def test_default_tables(table: t.Table, x: float, expected: float) -> None:
    assert table(x) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("x", "y", "problem"),
    [
        ((1, 2, 3), (0, 1, 1), None),
        ((3, 2, 1), (0, 1, 1), None),
        ((1, 3, 2), (0, 1, 1), "strictly"),
        ((1, 1, 2), (0, 1, 1), "strictly"),
        ((1, 2), (0, 1, 1), "breakpoints"),
        ((), (), "at least one"),
        ((1, 2), (0, -1), "negative"),
    ],
)
def test_table_problems(x: tuple, y: tuple, problem: str | None) -> None:
    found = t.table_problem(x, y)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_single_point_table_is_constant() -> None:
    assert t.Table((5.0,), (0.3,))(100) == 0.3
