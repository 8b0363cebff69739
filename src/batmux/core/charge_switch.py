"""batmon-ha's ``soc`` algorithm: keep an LFP pack out of the top of its range.

The BMS charge switch goes off when SoC reaches ``stop_soc`` and back on when SoC falls to
``start_soc`` (with at least 0.2 % hysteresis). It acts only when SoC *enters* one of those
zones, so a switch the user flips by hand stays as set until the next crossing. Every
``calibration_days`` it lets the pack charge to 100 % once, so the BMS can resync its SoC.
The result is a wish (True = charge on); the runtime sends it only with ``allow_control``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from batmux.core.bank_config import ChargeSwitchConfig

DAY_S = 86400.0
MIN_HYSTERESIS_PCT = 0.2


@dataclass(slots=True)
class ChargeSwitchState:
    zone: str | None = None  # "high", "low", "mid"
    calibrating: bool = False
    last_calibration: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ChargeSwitchState:
        if not isinstance(data, dict):
            return cls()
        state = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        ok = (
            state.zone in (None, "high", "low", "mid")
            and isinstance(state.calibrating, bool)
            and (state.last_calibration is None or isinstance(state.last_calibration, int | float))
        )
        return state if ok else cls()


def decide_charge_switch(
    cfg: ChargeSwitchConfig,
    state: ChargeSwitchState,
    soc_pct: float | None,
    charge_enabled: bool | None,
    now: float,
) -> bool | None:
    """The charge-switch action to take now (True = on, False = off) or None for no change."""
    if soc_pct is None:
        return None
    if state.last_calibration is None:
        state.last_calibration = now  # first run: the first calibration is one period away
    wish = _decide(cfg, state, soc_pct, now)
    if wish is None or wish == charge_enabled:
        return None
    return wish


def _decide(
    cfg: ChargeSwitchConfig, state: ChargeSwitchState, soc: float, now: float
) -> bool | None:
    if state.calibrating:
        if soc >= 100.0:
            state.calibrating = False
            state.last_calibration = now
            state.zone = "high"
            return False
        return True
    days = cfg.calibration_days
    if days and state.last_calibration is not None and now - state.last_calibration >= days * DAY_S:
        state.calibrating = True
        return True
    stop = cfg.stop_soc
    start = min(cfg.start_soc if cfg.start_soc is not None else stop, stop - MIN_HYSTERESIS_PCT)
    zone = "high" if soc >= stop else "low" if soc <= start else "mid"
    entered, state.zone = zone != state.zone, zone
    if not entered:
        return None
    return {"high": False, "low": True}.get(zone)
