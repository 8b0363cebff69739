"""The bank engine: one call per publish period turns battery states into published states.

For every battery: reject implausible samples, run the coulomb counter (if enabled), compute
limits, time to go and the charge-switch wish. Then every group, members first: merge, count,
limits, time to go (down to the ESS minimum SoC when a Victron input device reports one).
All state carried between calls lives here and is saved with ``save_state``; time comes from
the caller (``now``) or the injected clock, never from the module itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batmux.core.bank_config import (
    CoulombConfig,
    GroupConfig,
    LimitsConfig,
    group_order,
    leaf_batteries,
)
from batmux.core.charge_switch import ChargeSwitchState, decide_charge_switch
from batmux.core.coulomb import CoulombState, apply_coulomb, update_coulomb
from batmux.core.freshness import is_fresh
from batmux.core.group_limits import GroupLimitState, group_limits
from batmux.core.groups import merge_group
from batmux.core.limits import LimitResult, LimitState, battery_limits
from batmux.core.plausibility import check_plausible
from batmux.core.statefile import load_json, save_json_atomic
from batmux.core.time_to_go import ess_floor_soc, time_to_go_s
from batmux.errors import ImplausibleSample
from batmux.model.sample import BatterySample
from batmux.model.state import BatteryState

if TYPE_CHECKING:
    from batmux.config import Config

log = logging.getLogger(__name__)

STATE_FILE = "bank_state.json"
STATE_VERSION = 1
DEFAULT_LIMITS = LimitsConfig()


@dataclass(slots=True)
class _Unit:
    """Per battery/group state carried between updates."""

    limits_cfg: LimitsConfig
    coulomb_cfg: CoulombConfig | None = None
    limit_state: LimitState = field(default_factory=LimitState)
    group_state: GroupLimitState = field(default_factory=GroupLimitState)
    coulomb: CoulombState = field(default_factory=CoulombState)
    last_sample: BatterySample | None = None  # a group's last merged sample


class BankEngine:
    """``update(states, now)`` → every battery and group, limits filled in.

    See docs/banks-and-limits.md for the rules and how the runtime wires it.
    """

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._batteries = {b.name: b for b in config.batteries}
        self._groups: list[GroupConfig] = group_order(config.groups)
        self._units: dict[str, _Unit] = {}
        for battery in self._batteries.values():
            self._units[battery.name] = _Unit(
                battery.limits or DEFAULT_LIMITS, battery.coulomb_counter
            )
        for group in self._groups:
            self._units[group.name] = _Unit(group.limits or DEFAULT_LIMITS, group.coulomb_counter)
        self._switch_states: dict[str, ChargeSwitchState] = {
            b.name: ChargeSwitchState() for b in self._batteries.values() if b.charge_switch
        }
        # group charge switch: (members it sends to, members left alone without allow_control)
        self._switch_members: dict[str, tuple[list[str], list[str]]] = {}
        for group in self._groups:
            if group.charge_switch is not None:
                self._switch_states[group.name] = ChargeSwitchState()
                self._switch_members[group.name] = self._split_controllable(group.name)
        self.rejected: dict[str, Counter[str]] = {}  # name → implausibility reason → count
        self.switch_actions: dict[str, bool] = {}  # charge-switch wishes of the last update
        self.switch_origin: dict[str, str] = {}  # battery → the group whose wish it carries

    def _split_controllable(self, group: str) -> tuple[list[str], list[str]]:
        leaves = leaf_batteries(group, {g.name: g for g in self._groups})
        control = [n for n in leaves if n in self._batteries and self._batteries[n].allow_control]
        alone = [n for n in leaves if n not in control]
        if alone:
            names = ", ".join(alone)
            log.warning("%s: charge switch leaves %s alone (no allow_control)", group, names)
        return control, alone

    def _unit(self, name: str) -> _Unit:
        if name not in self._units:  # a battery the config does not list: default limits
            self._units[name] = _Unit(DEFAULT_LIMITS)
        return self._units[name]

    # -- one update -------------------------------------------------------------------------
    def update(
        self, battery_states: Mapping[str, BatteryState], now: float | None = None
    ) -> list[BatteryState]:
        now = self._clock() if now is None else now
        self.switch_actions = {}
        self.switch_origin = {}
        raw = {name: self._screen(state) for name, state in battery_states.items()}
        floor = ess_floor_soc(s.sample for s in raw.values())
        out: dict[str, BatteryState] = {}
        results: dict[str, LimitResult] = {}
        for name, state in raw.items():
            unit = self._unit(name)
            state = self._count(name, unit, state, raw, out, now)
            fresh = is_fresh(state, now, unit.limits_cfg.stale_after)
            result = battery_limits(unit.limits_cfg, state.sample, fresh, unit.limit_state, now)
            results[name] = result
            if unit.limit_state.cvl.soc_reset_done:
                # consumed here: a stale next publish skips compute_cvl, which would clear it
                unit.limit_state.cvl.soc_reset_done = False
                state = self._soc_reset_done(name, unit, raw[name], state)
            ttg = time_to_go_s(state.sample, floor) if fresh else None
            out[name] = replace(state, limits=result.limits, time_to_go_s=ttg)
            self._charge_switch(name, out[name], fresh, now)
        for group in self._groups:
            unit = self._unit(group.name)
            merged = merge_group(group, out, now, unit.limits_cfg.stale_after)
            if merged.sample is not None:
                unit.last_sample = merged.sample
            elif unit.last_sample is not None:
                # No member left: keep the last values, like a battery, so every output still
                # gets a whole state to carry "unavailable, 0 A" (never a retained 100 A).
                merged = replace(merged, sample=unit.last_sample)
            merged = self._count(group.name, unit, merged, raw, out, now)
            result = group_limits(
                group, unit.limits_cfg, unit.group_state, merged, out, results, now
            )
            results[group.name] = result
            ttg = time_to_go_s(merged.sample, floor) if merged.available else None
            out[group.name] = replace(merged, limits=result.limits, time_to_go_s=ttg)
            if group.charge_switch is not None:
                out[group.name] = self._group_charge_switch(group, out, now)
        return list(out.values())

    def process(self, states: list[BatteryState], now: float) -> list[BatteryState]:
        """The runtime's ``StateProcessor`` signature: ``gateway.add_processor(engine.process)``."""
        return self.update({s.name: s for s in states}, now)

    def _screen(self, state: BatteryState) -> BatteryState:
        """Drop an implausible sample so it never reaches a counter, group or limit."""
        if state.sample is None:
            return state
        try:
            check_plausible(state.sample)
        except ImplausibleSample as exc:
            problem = str(exc)
        else:
            return state
        self.rejected.setdefault(state.name, Counter())[problem] += 1
        diagnostics = {**state.diagnostics, "implausible": problem}
        return replace(state, available=False, sample=None, diagnostics=diagnostics)

    def _count(
        self,
        name: str,
        unit: _Unit,
        state: BatteryState,
        raw: Mapping[str, BatteryState],
        done: Mapping[str, BatteryState],
        now: float,
    ) -> BatteryState:
        cfg = unit.coulomb_cfg
        if cfg is None or not cfg.enabled or state.sample is None:
            return state
        if not is_fresh(state, now, unit.limits_cfg.stale_after):
            return state
        current = state.sample.current_a
        if cfg.current_from is not None:
            source = done.get(cfg.current_from) or raw.get(cfg.current_from)
            fresh = is_fresh(source, now, self._unit(cfg.current_from).limits_cfg.stale_after)
            if source is not None and fresh and source.sample is not None:
                current = source.sample.current_a
                if current is not None and cfg.invert_current:
                    current = -current
        update_coulomb(cfg, unit.coulomb, state.sample, current, now)
        return replace(state, sample=apply_coulomb(state.sample, unit.coulomb))

    def _soc_reset_done(
        self, name: str, unit: _Unit, raw: BatteryState, state: BatteryState
    ) -> BatteryState:
        """The pack absorbed at the reset voltage: it is full, so our counter says 100 %."""
        log.info("%s: SoC-reset charge done", name)
        counter = unit.coulomb
        cfg = unit.coulomb_cfg
        if cfg is None or not cfg.enabled or raw.sample is None or not counter.capacity_ah:
            return state
        if counter.charge_ah != counter.capacity_ah:
            counter.syncs_full += 1
        counter.charge_ah = counter.capacity_ah
        return replace(state, sample=apply_coulomb(raw.sample, counter))

    def _charge_switch(self, name: str, state: BatteryState, fresh: bool, now: float) -> None:
        battery = self._batteries.get(name)
        if battery is None or battery.charge_switch is None or not fresh or state.sample is None:
            return
        wish = decide_charge_switch(
            battery.charge_switch,
            self._switch_states[name],
            state.sample.soc_pct,
            state.sample.charge_enabled,
            now,
        )
        if wish is not None:
            self.switch_actions[name] = wish

    def _group_charge_switch(
        self, group: GroupConfig, out: Mapping[str, BatteryState], now: float
    ) -> BatteryState:
        """The group's wish on its SoC, for every controllable member not already there."""
        state, switch_state = out[group.name], self._switch_states[group.name]
        control, alone = self._switch_members[group.name]
        diagnostics = {**state.diagnostics, "charge_switch_members": control}
        diagnostics["charge_switch_left_alone"] = alone  # no allow_control: never written
        if state.available and state.sample is not None and group.charge_switch is not None:
            # No suppression on the group's own switch (an AND of all members): each member
            # is compared on its own below.
            wish = decide_charge_switch(
                group.charge_switch, switch_state, state.sample.soc_pct, None, now
            )
            for name in control if wish is not None else ():
                member = out.get(name)
                if member is None or member.sample is None or member.sample.charge_enabled != wish:
                    self.switch_actions[name] = wish
                    self.switch_origin[name] = group.name
        return replace(state, diagnostics=diagnostics)

    # -- persistence ------------------------------------------------------------------------
    def state_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "coulomb": {
                name: unit.coulomb.to_json()
                for name, unit in self._units.items()
                if unit.coulomb_cfg is not None
            },
            "charge_switch": {name: s.to_json() for name, s in self._switch_states.items()},
            "soc_reset": {
                name: unit.limit_state.cvl.soc_reset_last
                for name, unit in self._units.items()
                if unit.limits_cfg.soc_reset_after_days is not None
            },
        }

    def save_state(self, directory: str | Path) -> None:
        save_json_atomic(Path(directory) / STATE_FILE, self.state_json())

    def load_state(self, directory: str | Path) -> None:
        data = load_json(Path(directory) / STATE_FILE, {})
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return
        for name, saved in (data.get("coulomb") or {}).items():
            unit = self._units.get(name)
            if unit is not None and unit.coulomb_cfg is not None:
                unit.coulomb = CoulombState.from_json(saved)
        for name, saved in (data.get("charge_switch") or {}).items():
            if name in self._switch_states:
                self._switch_states[name] = ChargeSwitchState.from_json(saved)
        resets = data.get("soc_reset")
        for name, last in (resets if isinstance(resets, dict) else {}).items():
            unit = self._units.get(name)
            if unit is not None and isinstance(last, int | float) and not isinstance(last, bool):
                unit.limit_state.cvl.soc_reset_last = float(last)
