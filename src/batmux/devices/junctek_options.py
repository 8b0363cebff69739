"""The ``junctek:`` section of a ``type: junctek`` battery (kept light: config imports it).

junctek:
  rs485_address: 1          # the shunt's address (1-99), set on its display
  poll_interval: 2          # s between :R50= requests
  capacity_ah: 280          # else the shunt's own preset (read with :R51=)
  soc_fallback:             # SoC from the resting voltage when the counter drifted
    cells: 16               # needed: the curve is per cell
    max_drift_pct: 10
    rest_current_a: 1.0
    rest_minutes: 30
    voltage_tolerance_v: 0.02
    curve: [[2.5, 0], [3.2, 10], [3.3, 50], [3.4, 98], [3.6, 100]]   # default: LFP
"""

from __future__ import annotations

from batmux.core.ocv_soc import LFP_REST_CURVE, OcvCurve, SocFallbackRule
from batmux.modelkit import BaseModel, ConfigDict, Field, field_validator


class SocFallbackOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cells: int = Field(ge=1, le=400)
    max_drift_pct: float = Field(10.0, ge=0, le=100)
    rest_current_a: float = Field(1.0, ge=0)
    rest_minutes: float = Field(30.0, gt=0)
    voltage_tolerance_v: float = Field(0.02, ge=0, le=0.5)
    curve: tuple[tuple[float, float], ...] = LFP_REST_CURVE

    @field_validator("curve")
    @classmethod
    def _curve(cls, value: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        OcvCurve(value)  # raises ValueError with the reason
        return value

    def rule(self) -> SocFallbackRule:
        return SocFallbackRule(
            cells=self.cells,
            curve=OcvCurve(self.curve),
            max_drift_pct=self.max_drift_pct,
            rest_current_a=self.rest_current_a,
            rest_s=self.rest_minutes * 60,
            voltage_tolerance_v=self.voltage_tolerance_v,
        )


class JunctekOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rs485_address: int = Field(1, ge=1, le=99)
    poll_interval: float = Field(2.0, gt=0)
    settings_interval: float = Field(30.0, gt=0)
    capacity_ah: float | None = Field(None, gt=0)
    soc_fallback: SocFallbackOptions | None = None
