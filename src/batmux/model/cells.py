"""Cell ids and pack size as sinks show them, for a single pack and for a bank.

A parallel bank's sample carries its packs' cells in a row; ``core.groups`` puts where they are
into ``extra``: ``min_cell_id``/``max_cell_id`` ("b:3") and ``cells_in_series`` (the pack size,
when all packs have the same count). Venus D-Bus and the MQTT JSON output read them here so
both show the same ids, cells per battery, per-position cells, pack sum and temperature.
"""

from __future__ import annotations

from batmux.model.sample import BatterySample


def cell_id(sample: BatterySample, which: str) -> str | None:
    """``which`` is "min" or "max": "C3" as dbus-serialbattery, or a bank's "pack:cell"."""
    given = sample.extra.get(f"{which}_cell_id")
    if isinstance(given, str):
        return given
    number = sample.min_cell_id if which == "min" else sample.max_cell_id
    return None if number is None else f"C{number}"


def cells_per_battery(sample: BatterySample) -> int | None:
    """Cells in series of one pack (a parallel bank's pack size), None without cells."""
    per_pack = sample.extra.get("cells_in_series")
    if isinstance(per_pack, int) and not isinstance(per_pack, bool) and per_pack > 0:
        return per_pack
    return len(sample.cell_voltages_v) or None


def pack_sum_v(sample: BatterySample) -> float | None:
    """Sum of one pack's cells: for a parallel bank, the mean over its packs."""
    cells = sample.cell_voltages_v
    per_pack = cells_per_battery(sample)
    if not cells or per_pack is None:
        return None
    return round(sum(cells) / max(len(cells) // per_pack, 1), 3)


def series_cells(sample: BatterySample) -> tuple[float, ...]:
    """One series string's worth of cells, as Victron's tools expect for one battery.

    A single pack (or a series bank) gives its cells as they are. A parallel bank of P packs of
    N cells gives N values: cell k is the mean of cell k over the packs. The mean, not the min,
    because the cells at one position are not connected to each other, and because the means
    add up to the mean pack sum (``/Voltages/Sum``, which dbus-mqtt-battery would otherwise
    compute as the sum of the cells). The real extremes stay in ``min_cell_v``/``max_cell_v``
    and their "pack:cell" ids, which is what limits and alarms use.
    """
    cells = sample.cell_voltages_v
    per_pack = cells_per_battery(sample)
    if per_pack is None or len(cells) <= per_pack or len(cells) % per_pack:
        return cells
    packs = len(cells) // per_pack
    return tuple(
        round(sum(cells[p * per_pack + k] for p in range(packs)) / packs, 4)
        for k in range(per_pack)
    )


def battery_temperature_c(sample: BatterySample) -> float | None:
    """The one battery temperature every output shows (Venus ``/Dc/0/Temperature`` and the
    dbus-mqtt-battery JSON ``Dc.Temperature``): the median of the battery's own probes, never
    the MOSFET sensor, as dbus-serialbattery's default. The median ignores one broken probe (an
    open NTC reads -40 °C); extremes are published separately as min/max cell temperature.
    Rounded to 0.1 °C here, so both outputs carry the same number."""
    temps = sorted(sample.temperatures_c)
    if not temps:
        return None
    mid = len(temps) // 2
    return round(temps[mid] if len(temps) % 2 else (temps[mid - 1] + temps[mid]) / 2, 1)


def balancing_cells(sample: BatterySample) -> list[int | None]:
    """Per-cell balancing from ``extra['balancing_cells']`` (bitmask, bit 0 = cell 1), one
    flag per cell of ``series_cells``."""
    mask = sample.extra.get("balancing_cells")
    n = len(series_cells(sample))
    if isinstance(mask, int) and not isinstance(mask, bool):
        return [(mask >> i) & 1 for i in range(n)]
    return [None] * n
