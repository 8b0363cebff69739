"""Cell ids and pack size as sinks show them, for a single pack and for a bank.

A parallel bank's sample carries its packs' cells in a row; ``core.groups`` puts where they are
into ``extra``: ``min_cell_id``/``max_cell_id`` ("b:3") and ``cells_in_series`` (the pack size,
when all packs have the same count). Venus D-Bus and the MQTT JSON output read them here so
both show the same ids, cells per battery and pack sum.
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


def balancing_cells(sample: BatterySample) -> list[int | None]:
    """Per-cell balancing from ``extra['balancing_cells']`` (bitmask, bit 0 = cell 1)."""
    mask = sample.extra.get("balancing_cells")
    n = len(sample.cell_voltages_v)
    if isinstance(mask, int) and not isinstance(mask, bool):
        return [(mask >> i) & 1 for i in range(n)]
    return [None] * n
