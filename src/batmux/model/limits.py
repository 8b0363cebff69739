"""Charge limits every sink that talks to other equipment uses (CVL / CCL / DCL)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChargeLimits:
    """What the battery (or bank) allows right now. 0 A means blocked."""

    charge_voltage_v: float  # CVL
    charge_current_a: float  # CCL, >= 0
    discharge_current_a: float  # DCL, >= 0
    discharge_voltage_v: float | None = None  # DVL / battery-low voltage
    reason: str = ""  # e.g. "stale", "cell_high", "temperature", "float"

    @property
    def blocks_charge(self) -> bool:
        return self.charge_current_a <= 0

    @property
    def blocks_discharge(self) -> bool:
        return self.discharge_current_a <= 0

    @property
    def known_charge_voltage_v(self) -> float | None:
        """CVL, or None for 0 V: never a real limit, it means "no cell data to set one"."""
        return self.charge_voltage_v if self.charge_voltage_v > 0 else None

    def to_json(self) -> dict[str, object]:
        cvl = self.known_charge_voltage_v
        out: dict[str, object] = {
            "charge_voltage_limit": round(cvl, 3) if cvl is not None else None,
            "charge_current_limit": round(self.charge_current_a, 2),
            "discharge_current_limit": round(self.discharge_current_a, 2),
            "limit_reason": self.reason,
        }
        if self.discharge_voltage_v is not None:
            out["discharge_voltage_limit"] = round(self.discharge_voltage_v, 3)
        return out
