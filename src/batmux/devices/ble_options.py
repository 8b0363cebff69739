"""The optional ``ble:`` section of a battery: connection policy knobs (see docs/ble-link.md)."""

from __future__ import annotations

from typing import Any

from batmux.modelkit import BaseModel, ConfigDict, Field


class BleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stuck_after: int = Field(10, ge=2)  # sample periods without a frame → reconnect
    backoff_max: float = Field(60.0, gt=0)  # s, cap of the exponential reconnect backoff
    power_cycle_after: int = Field(0, ge=0)  # consecutive failures before Powered off/on; 0 = never
    power_cycle_interval: float = Field(600.0, gt=0)  # s, at most one power cycle per interval
    pair: bool = True  # bond with the battery's pin: when BlueZ has no bond; false = never
    acquire: bool = True  # notifications/write commands via BlueZ sockets; false = D-Bus only

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BleSource``."""
        from batmux.devices.ble_source import Backoff

        return {
            "stuck_after_periods": self.stuck_after,
            "backoff": Backoff(cap_s=self.backoff_max),
            "power_cycle_after": self.power_cycle_after,
            "power_cycle_interval_s": self.power_cycle_interval,
        }
