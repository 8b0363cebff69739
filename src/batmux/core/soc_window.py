"""The usable-SoC window of an inverter link: what the inverter is told instead of the real SoC.

With a window of [min, max] % of the real SoC, the inverter sees that range stretched onto
0–100 % (clamped), so its own SoC limits keep the pack away from both ends. Capacity and
remaining charge describe the window, not the whole pack; SOH is left alone. At or below
``min`` the discharge limit is 0 A, at or above ``max`` the charge limit is 0 A.

    window 10–90 %: real 50 → 50, real 10 → 0, real 90 → 100, real 5 → 0 and DCL 0 A
    100 Ah pack at real 50 %: capacity 80 Ah, remaining 40 Ah

``apply_soc_window`` is the one function every inverter sink runs on the hub's state before
its protocol builder sees it, so the builders need not know that a window exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from batmux.core.limits import STALE
from batmux.model.limits import ChargeLimits
from batmux.model.state import BatteryState

BELOW_MIN = "soc_window_min"  # discharge blocked: real SoC at or below the window's bottom
ABOVE_MAX = "soc_window_max"  # charge blocked: real SoC at or above the window's top


@dataclass(frozen=True, slots=True)
class SocWindow:
    """The real SoC range [min_pct, max_pct] that the inverter sees as 0–100 %."""

    min_pct: float
    max_pct: float

    def __post_init__(self) -> None:
        if not 0 <= self.min_pct < self.max_pct <= 100:
            raise ValueError("need 0 <= min < max <= 100")

    @property
    def span_pct(self) -> float:
        return self.max_pct - self.min_pct


def scale_soc(real_pct: float, window: SocWindow) -> float:
    """The SoC the inverter sees, 0–100 %."""
    scaled = (real_pct - window.min_pct) / window.span_pct * 100
    return round(min(100.0, max(0.0, scaled)), 4)  # rounding hides float noise (49.99999…)


def window_block(real_pct: float | None, window: SocWindow) -> str:
    """Which direction the window blocks: ``BELOW_MIN``, ``ABOVE_MAX`` or ``""``."""
    if real_pct is None:
        return ""
    if real_pct <= window.min_pct:
        return BELOW_MIN
    if real_pct >= window.max_pct:
        return ABOVE_MAX
    return ""


def real_soc(state: BatteryState | None) -> float | None:
    """The pack's SoC, or charge ÷ capacity when the device gives no SoC."""
    sample = state.sample if state is not None else None
    if sample is None:
        return None
    if sample.soc_pct is not None:
        return sample.soc_pct
    if sample.charge_ah is not None and sample.capacity_ah:
        return sample.charge_ah / sample.capacity_ah * 100
    return None


def _window_limits(limits: ChargeLimits, block: str) -> ChargeLimits:
    if not block or limits.reason == STALE:
        return limits  # stale limits are 0 A already; their reason drives the fail-safe
    reason = f"{limits.reason} {block}" if limits.reason else block
    if block == BELOW_MIN:
        return replace(limits, discharge_current_a=0.0, reason=reason)
    return replace(limits, charge_current_a=0.0, reason=reason)


def apply_soc_window(state: BatteryState | None, window: SocWindow | None) -> BatteryState | None:
    """The state as the inverter should see it through ``window`` (unchanged when None)."""
    if window is None or state is None or state.sample is None:
        return state
    sample = state.sample
    real = real_soc(state)
    capacity = sample.capacity_ah * window.span_pct / 100 if sample.capacity_ah else None
    soc = scale_soc(real, window) if real is not None else None
    charge = capacity * soc / 100 if capacity is not None and soc is not None else None
    shown = sample.with_(
        soc_pct=soc,
        capacity_ah=round(capacity, 3) if capacity is not None else None,
        charge_ah=round(charge, 3) if charge is not None else None,
    )
    limits = state.limits
    if limits is not None:
        limits = _window_limits(limits, window_block(real, window))
    return replace(state, sample=shown, limits=limits)


def window_status(state: BatteryState | None, window: SocWindow | None) -> dict[str, Any]:
    """Keys a link adds to its status JSON when a window is configured (none otherwise)."""
    if window is None:
        return {}
    real = real_soc(state)
    return {
        "real_soc": round(real, 2) if real is not None else None,
        "reported_soc": scale_soc(real, window) if real is not None else None,
        "soc_window_block": window_block(real, window),
    }
