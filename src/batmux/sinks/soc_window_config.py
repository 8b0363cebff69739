"""``soc_window: {min: 10, max: 95}`` on an ``inverters:`` entry (every inverter type).

Percent of the real SoC; the inverter sees [min, max] as 0–100 % (see ``core.soc_window``).
"""

from __future__ import annotations

from batmux.core.soc_window import SocWindow
from batmux.modelkit import BaseModel, ConfigDict, Field, model_validator


class SocWindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float = Field(ge=0, le=100)  # real SoC % shown as 0 %
    max: float = Field(ge=0, le=100)  # real SoC % shown as 100 %

    @model_validator(mode="after")
    def _ordered(self) -> SocWindowConfig:
        if not self.min < self.max:
            raise ValueError("need min < max (0 <= min < max <= 100)")
        return self

    @property
    def window(self) -> SocWindow:
        return SocWindow(self.min, self.max)


def soc_window(cfg: SocWindowConfig | None) -> SocWindow | None:
    return cfg.window if cfg is not None else None
