"""The scalar values of one battery or group state, as the observation sinks export them.

InfluxDB fields and Prometheus gauges carry the same quantities under the same names, so both
read them here; each adds only what its format needs (per-cell fields, counters).
"""

from __future__ import annotations

from typing import Any

from batmux.model.state import BatteryState


def scalar_values(state: BatteryState) -> dict[str, Any]:
    """Name → value (None when unknown) of the sample's scalars, cell spread and limits."""
    values: dict[str, Any] = {"online": state.available}
    s = state.sample
    if s is not None:
        values.update(
            soc=s.soc_pct,
            voltage=s.voltage_v,
            current=s.current_a,
            power=s.power_w,
            charge=s.charge_ah,
            capacity=s.capacity_ah,
            cycles=s.cycles,
            soh=s.soh_pct,
            temperature_max=max(s.temperatures_c) if s.temperatures_c else None,
            mos_temperature=s.mos_temperature_c,
            charge_enabled=s.charge_enabled,
            discharge_enabled=s.discharge_enabled,
            balancing=s.balancing,
            alarms=len(s.alarms),
        )
        if s.cell_voltages_v:
            low, high = min(s.cell_voltages_v), max(s.cell_voltages_v)
            values.update(cell_min=low, cell_max=high, cell_delta=round(high - low, 4))
    if state.limits is not None:
        values.update(
            charge_voltage_limit=state.limits.known_charge_voltage_v,
            charge_current_limit=state.limits.charge_current_a,
            discharge_current_limit=state.limits.discharge_current_a,
        )
    return values
