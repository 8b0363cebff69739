"""Builders for samples and states used by the bank tests."""

from __future__ import annotations

from typing import Any

from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

LFP16 = (3.30,) * 16


def sample(t: float = 0.0, cells: tuple[float, ...] = LFP16, **kw: Any) -> BatterySample:
    defaults: dict[str, Any] = {
        "voltage_v": round(sum(cells), 3) if cells else 53.0,
        "current_a": 0.0,
        "soc_pct": 50.0,
        "capacity_ah": 100.0,
        "temperatures_c": (25.0, 26.0),
        "charge_enabled": True,
        "discharge_enabled": True,
    }
    defaults.update(kw)
    if "charge_ah" not in defaults:  # consistent with SoC, as a real BMS reports it
        soc, capacity = defaults["soc_pct"], defaults["capacity_ah"]
        known = soc is not None and capacity is not None
        defaults["charge_ah"] = round(soc * capacity / 100, 3) if known else None
    return BatterySample(timestamp=t, cell_voltages_v=cells, **defaults)


def state(name: str, t: float = 0.0, available: bool = True, **kw: Any) -> BatteryState:
    return BatteryState(name=name, available=available, sample=sample(t, **kw), last_good_at=t)


def cells(n: int = 16, v: float = 3.30, **overrides: float) -> tuple[float, ...]:
    """``cells(16, 3.3, c3=3.6)`` → 16 cells at 3.3 V with cell 3 at 3.6 V."""
    out = [v] * n
    for key, value in overrides.items():
        out[int(key[1:]) - 1] = value
    return tuple(out)


def published_without_cells() -> BatteryState:
    """What the bank engine publishes for a pack with no cell data (an mqtt_json feed):
    limits with CVL 0.0 and reason ``no_cell_data``."""
    from batmux.config import parse_config
    from batmux.core.bank import BankEngine

    cfg = parse_config({"batteries": [{"name": "feed", "type": "mqtt_json", "topic": "t"}]})
    feed = BatteryState(
        name="feed",
        available=True,
        sample=BatterySample(timestamp=0.0, voltage_v=52.0, current_a=-10.0, soc_pct=40.0),
        last_good_at=0.0,
    )
    (published,) = BankEngine(cfg).update({"feed": feed}, now=0.0)
    return published
