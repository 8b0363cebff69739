"""Supervisor locks: the field's guards with hysteresis, as a pure function of what is known.

A lock names the device classes it blocks (`inverter`, `charger`, `solar`) and a reason that is
published as is. Voltage and temperature locks release only past their hysteresis; time-based
locks release as soon as data flows again. The controller requests 0 W from every inverter on
the tick after an inverter lock engages (docs/netzero.md, "Bounds").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batmux.netzero.config import GuardsConfig

INVERTER, CHARGER, SOLAR = "inverter", "charger", "solar"
ALL = frozenset({INVERTER, CHARGER, SOLAR})


@dataclass(frozen=True)
class BatteryView:
    """What the guards read of the `battery:` state (built by the runtime from BatteryState)."""

    age_s: float | None  # seconds since the last good sample; None = never
    stale_after_s: float  # batmux's freshness bound for this battery or group
    cell_min_v: float | None = None
    cell_max_v: float | None = None
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    voltage_v: float | None = None
    ccl_a: float | None = None  # from the limits engine; None = no limits known
    dcl_a: float | None = None

    @property
    def ccl_w(self) -> float | None:
        return None if self.ccl_a is None or self.voltage_v is None else self.ccl_a * self.voltage_v

    @property
    def dcl_w(self) -> float | None:
        return None if self.dcl_a is None or self.voltage_v is None else self.dcl_a * self.voltage_v


@dataclass(frozen=True)
class Lock:
    reason: str  # e.g. "cell_low: 3.05 V < 3.10 V"
    blocks: frozenset[str]

    @property
    def key(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass
class Supervisor:
    cfg: GuardsConfig
    _latched: set[str] = field(default_factory=set)  # hysteresis locks currently engaged

    def _hyst(self, key: str, engage: bool, release: bool) -> bool:
        """A latch: on when `engage`, off again only when `release`."""
        if engage:
            self._latched.add(key)
        elif release:
            self._latched.discard(key)
        return key in self._latched

    def evaluate(
        self,
        battery: BatteryView,
        meter_age_s: float | None,
        mqtt_down_s: float | None,
        uptime_s: float,
    ) -> list[Lock]:
        """All locks now. `meter_age_s`: age of the last consumption value (None = none yet,
        counted from start-up via `uptime_s`); `mqtt_down_s`: how long the broker has been
        unreachable (None = connected or not used)."""
        g = self.cfg
        locks: list[Lock] = []
        stale = min(g.battery_offline, battery.stale_after_s)
        age = battery.age_s if battery.age_s is not None else uptime_s
        if battery.age_s is None or age > stale:
            locks.append(Lock(f"battery_offline: no fresh battery data for {age:.0f} s", ALL))
            # cell/temperature values of stale data mean nothing: keep their latches as they are
        else:
            self._cells_and_temps(battery, locks)
        meter_age = meter_age_s if meter_age_s is not None else uptime_s
        if meter_age > g.live_data_lost_discharge:
            locks.append(
                Lock(
                    f"live_data_lost: no consumption value for {meter_age:.0f} s",
                    frozenset({INVERTER}),
                )
            )
        if meter_age > g.live_data_lost_charge:
            locks.append(
                Lock(
                    f"live_data_lost_charge: no consumption value for {meter_age:.0f} s",
                    frozenset({CHARGER}),
                )
            )
        if mqtt_down_s is not None and mqtt_down_s > g.mqtt_offline:
            locks.append(Lock(f"mqtt_offline: broker unreachable for {mqtt_down_s:.0f} s", ALL))
        if battery.dcl_a is not None and battery.dcl_a <= 0:
            locks.append(Lock("discharge_limit: DCL is 0 A", frozenset({INVERTER})))
        if battery.ccl_a is not None and battery.ccl_a <= 0:
            locks.append(Lock("charge_limit: CCL is 0 A", frozenset({CHARGER, SOLAR})))
        return locks

    def _cells_and_temps(self, b: BatteryView, locks: list[Lock]) -> None:
        g = self.cfg
        if b.cell_min_v is not None and self._hyst(
            "cell_low",
            b.cell_min_v < g.cell_low,
            b.cell_min_v >= g.cell_low + g.cell_low_hysteresis,
        ):
            locks.append(
                Lock(
                    f"cell_low: {b.cell_min_v:.3f} V (locks below {g.cell_low} V)",
                    frozenset({INVERTER}),
                )
            )
        if b.cell_max_v is not None and self._hyst(
            "cell_high",
            b.cell_max_v > g.cell_high,
            b.cell_max_v <= g.cell_high - g.cell_high_hysteresis,
        ):
            locks.append(
                Lock(
                    f"cell_high: {b.cell_max_v:.3f} V (locks above {g.cell_high} V)",
                    frozenset({CHARGER, SOLAR}),
                )
            )
        if b.temp_min_c is None or b.temp_max_c is None:
            return
        h = g.temp_hysteresis
        lo, hi = b.temp_min_c, b.temp_max_c
        windows = (
            ("temp_charge", g.charge_temp_low, g.charge_temp_high, frozenset({CHARGER, SOLAR})),
            ("temp_discharge", g.discharge_temp_low, g.discharge_temp_high, frozenset({INVERTER})),
        )
        for key, low, high, blocks in windows:
            if self._hyst(key, lo < low or hi > high, lo >= low + h and hi <= high - h):
                reason = f"{key}: {lo:.1f}..{hi:.1f} °C outside {low:g}..{high:g} °C"
                locks.append(Lock(reason, blocks))
