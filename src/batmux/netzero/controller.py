"""The zero-export controller: pure decisions from meter readings and inverter states.

Baseline is the field's loop (homebattery netzero, docs/netzero.md): a window of readings, its
second-smallest value (a robust minimum), a hysteresis band around the target and a maturity
time after each change. batmux changes three things, measured in bench/bench_netzero.py:

* **Export is answered at once, in full**: the latest reading below `target - hysteresis`
  lowers the output by the whole excess (the field lowers by at most `power_change_downwards`
  per step and waits for two readings).
* **The pending limit is accounted for**: while an inverter has not confirmed its last limit,
  decisions start from the confirmed (still active) output, so a slow inverter is not asked to
  step down twice for the same export, and no increase is sent on top of an unconfirmed one.
* **Up is robust, in one step**: an increase waits until the window since the last confirmed
  change is mature, then goes to the robust minimum of the last `up_robust_s` in one command
  (fewer commands than the field's capped steps, and less import during a kettle or oven).

Several inverters share the total in proportion to their maximum power; a share below an
inverter's minimum (its LUT's lowest entry) is moved to the others and that inverter asked for
0 W. No I/O here and no clock of its own: every call gets `now`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from batmux.netzero.guards import CHARGER, INVERTER, SOLAR
from batmux.netzero.ports import DeviceStatus, InverterState, PowerReading


@dataclass(frozen=True)
class Settings:
    target_w: float = 10.0
    hysteresis_w: float = 20.0
    signed: bool = True  # False: a 0 W reading may hide export
    up_window_s: float = 30.0  # increases look at the readings of this span
    up_settle_s: float = 10.0  # ...once the oldest of them is this old (maturity)
    up_min_points: int = 6
    up_robust_s: float = 30.0  # the robust minimum is taken over the readings of this span
    big_step_w: float | None = 500.0  # a robust excess this large over the last big_step_s...
    big_step_s: float = 10.0  # ...is followed without waiting for the whole up_robust_s
    confirm_readings: int = 2  # a small export must show in this many readings in a row
    change_up_w: float | None = None  # cap per increase; None: the whole robust excess
    unsigned_step_w: float = 50.0  # unsigned meter at 0 W: step down by at least this
    confirm_tolerance_w: float = 10.0  # |request - confirmed limit| below this = confirmed
    surplus_window_s: float = 30.0  # grid chargers on surplus: export held this long


@dataclass(frozen=True)
class InverterSpec:
    name: str
    max_power_w: float
    min_power_w: float = 0.0


@dataclass(frozen=True)
class Plan:
    """What the controller wants now, and why."""

    inverters: dict[str, float]  # name → requested W (0 = off)
    switches: dict[str, bool]  # charger/solar name → on
    total_w: float
    reason: str


@dataclass(frozen=True)
class SwitchSpec:
    name: str
    power_w: float
    role: str = "charger"  # charger | heater | solar


def distribute(total_w: float, specs: Sequence[InverterSpec]) -> dict[str, float]:
    """Split `total_w` in proportion to max power; shares under an inverter's minimum go to
    the others (largest first keep theirs) and that inverter gets 0 W."""
    out = {s.name: 0.0 for s in specs}
    active = sorted(specs, key=lambda s: s.max_power_w, reverse=True)
    total = max(0.0, min(total_w, sum(s.max_power_w for s in specs)))
    while active and total > 0:
        capacity = sum(s.max_power_w for s in active)
        shares = {s.name: total * s.max_power_w / capacity for s in active}
        short = [s for s in active if shares[s.name] < s.min_power_w]
        if not short:
            for s in active:
                out[s.name] = round(min(shares[s.name], s.max_power_w))
            break
        active.remove(short[-1])  # the smallest short one goes off, the rest share again
    return out


@dataclass
class Controller:
    settings: Settings
    inverters: Sequence[InverterSpec]
    switches: Sequence[SwitchSpec] = ()
    mode: str = "discharge"
    total_w: float = 0.0  # the current request (sum over inverters)
    _window: deque[tuple[float, float]] = field(default_factory=deque)
    _last_at: float | None = None
    _confirmed_w: float | None = None
    _switch_on: dict[str, bool] = field(default_factory=dict)

    def confirmed_w(self, states: Mapping[str, InverterState]) -> tuple[float, bool]:
        """(output now active, whether every inverter confirmed its last request)."""
        active, settled = 0.0, True
        requested = distribute(self.total_w, self.usable(states))
        for spec in self.inverters:
            st = states.get(spec.name)
            if st is None or st.status in (DeviceStatus.OFFLINE, DeviceStatus.FAULT):
                continue
            if st.status == DeviceStatus.OFF:
                watts = 0.0
            elif st.limit_w is not None:
                watts = st.limit_w
            else:
                watts = st.power_w or 0.0
            active += watts
            want = requested.get(spec.name, 0.0)
            if st.status == DeviceStatus.SYNCING or (
                abs(watts - want) > self.settings.confirm_tolerance_w
                and not (want == 0 and st.status == DeviceStatus.OFF)
            ):
                settled = False
        return active, settled

    def step(
        self,
        now: float,
        reading: PowerReading | None,
        states: Mapping[str, InverterState],
        blocked: frozenset[str] = frozenset(),
        dcl_w: float | None = None,
        ccl_w: float | None = None,
    ) -> Plan:
        """Call on every new reading and on every tick; returns the wanted state."""
        s = self.settings
        new = reading is not None and (self._last_at is None or reading.at > self._last_at)
        if new:
            assert reading is not None
            self._last_at = reading.at
            self._window.append((reading.at, reading.watts))
        while self._window and now - self._window[0][0] > max(s.up_window_s, s.surplus_window_s):
            self._window.popleft()
        active, settled = self.confirmed_w(states)
        if self._confirmed_w is None or abs(active - self._confirmed_w) > s.confirm_tolerance_w:
            self._confirmed_w = active  # the output changed: maturity counts from here
            self._window = deque(p for p in self._window if p[0] >= now)
        reason = "hold"
        if self.mode != "discharge":
            self.total_w, reason = 0.0, f"mode {self.mode}"
        elif INVERTER in blocked:
            self.total_w, reason = 0.0, "locked"
        elif new and reading is not None:
            reason = self._regulate(now, reading.watts, active, settled, states)
        usable = self.usable(states)
        cap = sum(i.max_power_w for i in usable)
        if dcl_w is not None and dcl_w < cap:
            cap = max(0.0, dcl_w)
            if self.total_w > cap:
                reason = f"DCL cap {cap:.0f} W"
        self.total_w = max(0.0, min(self.total_w, cap))
        switches = self._switches(now, reading, blocked, ccl_w)
        wanted = {i.name: 0.0 for i in self.inverters} | distribute(self.total_w, usable)
        return Plan(wanted, switches, self.total_w, reason)

    def usable(self, states: Mapping[str, InverterState]) -> list[InverterSpec]:
        """Inverters that can take a share: not reported offline or faulty (their share goes
        to the others; they are asked for 0 W until they are back)."""
        bad = (DeviceStatus.OFFLINE, DeviceStatus.FAULT)
        return [
            i for i in self.inverters if (st := states.get(i.name)) is None or st.status not in bad
        ]

    def _regulate(
        self,
        now: float,
        grid: float,
        active: float,
        settled: bool,
        states: Mapping[str, InverterState],
    ) -> str:
        s = self.settings
        base = active if not settled else self.total_w
        low = s.target_w - s.hysteresis_w
        last = [w for _, w in list(self._window)[-s.confirm_readings :]]
        # One reading far below the band, or a few in a row below it: a noise dip of a single
        # reading is not worth two commands (down now, up again later).
        exporting = grid < low - 2 * s.hysteresis_w or (
            len(last) >= s.confirm_readings and max(last) < low
        )
        if exporting or (not s.signed and grid <= 0):
            if not s.signed and grid <= 0:
                wanted = base - max(s.unsigned_step_w, 0.2 * base)
            else:
                wanted = base + (grid - s.target_w)
            if self.total_w <= 0:
                return "export, inverters at 0 W"
            if wanted < self.total_w - 1:
                self.total_w = max(0.0, wanted)
                self._window.clear()
                return f"export {grid:.0f} W"
            return "hold (reduction pending)"
        if not settled:
            return "wait (limit not confirmed)"
        recent = [w for t, w in self._window if now - t <= s.up_window_s]
        oldest = min((t for t, _ in self._window if now - t <= s.up_window_s), default=now)
        if len(recent) < s.up_min_points or now - oldest < s.up_settle_s:
            return "wait (maturity)"
        robust_of = [w for t, w in self._window if now - t <= s.up_robust_s] or recent
        robust = sorted(robust_of)[1] if len(robust_of) > 1 else robust_of[0]
        if s.big_step_w is not None:
            short = sorted(w for t, w in self._window if now - t <= s.big_step_s)
            if len(short) > 1 and short[1] - s.target_w >= s.big_step_w:
                robust = max(robust, short[1])  # a kettle or an oven: follow it now
        if robust > s.target_w + s.hysteresis_w:
            step = robust - s.target_w
            if s.change_up_w is not None:
                step = min(step, s.change_up_w)
            cap = sum(i.max_power_w for i in self.usable(states))
            if self.total_w >= cap:
                return "at maximum"
            self.total_w = min(cap, self.total_w + step)
            self._window.clear()
            return f"import {robust:.0f} W"
        return "in band"

    def _switches(
        self, now: float, reading: PowerReading | None, blocked: frozenset[str], ccl_w: float | None
    ) -> dict[str, bool]:
        """Solar on unless locked or protect; grid chargers/heaters on in charge mode, and in
        discharge mode on a surplus held `surplus_window_s` with the inverters at 0 W."""
        s = self.settings
        recent = [w for t, w in self._window if now - t <= s.surplus_window_s]
        for sw in self.switches:
            if sw.role == "solar":
                on = self.mode != "protect" and SOLAR not in blocked
            else:
                allowed = CHARGER not in blocked and (ccl_w is None or sw.power_w <= ccl_w)
                if self.mode == "charge":
                    on = allowed
                elif self.mode == "discharge" and allowed and self.total_w == 0:
                    was = self._switch_on.get(sw.name, False)
                    if was:  # stay on while the grid does not import
                        on = reading is not None and reading.watts <= s.target_w + s.hysteresis_w
                    else:
                        held = (
                            len(recent) >= 3
                            and self._window[0][0] <= now - s.surplus_window_s + 2
                            and max(recent) < s.target_w - s.hysteresis_w - sw.power_w
                        )
                        on = held
                else:
                    on = False
            self._switch_on[sw.name] = on
        return dict(self._switch_on)
