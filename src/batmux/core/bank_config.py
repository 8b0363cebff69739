"""Config sections for banks, coulomb counting, charge limits and the charge-switch algorithm.

Same style as ``batmux.config``: frozen, unknown keys rejected. Cross-references (group members,
``current_from``) are checked by ``check_bank_references`` once the whole config is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from batmux.core import tables as t
from batmux.modelkit import (
    BaseModel,
    ConfigDict,
    Field,
    InitErrorDetails,
    PydanticCustomError,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableConfig(_Strict):
    """``{x: [breakpoints], y: [fractions of the maximum current]}``."""

    x: list[float]
    y: list[float]

    @model_validator(mode="after")
    def _usable(self) -> TableConfig:
        problem = t.table_problem(self.x, self.y)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def table(self) -> t.Table:
        return t.cached_table(tuple(self.x), tuple(self.y))

    @classmethod
    def of(cls, table: t.Table) -> TableConfig:
        # floats, as validation makes them: slim models (batmux.modelkit) do not convert
        return cls(x=[float(v) for v in table.x], y=[float(v) for v in table.y])


def _table(default: t.Table) -> Any:
    return Field(default_factory=lambda: TableConfig.of(default))


class LimitsConfig(_Strict):
    """CVL / CCL / DCL rules for one battery or group (defaults: LFP)."""

    cell_voltage_max: float = Field(3.45, gt=0, le=5)
    cell_voltage_float: float = Field(3.375, gt=0, le=5)
    cell_voltage_min: float = Field(2.90, gt=0, le=5)  # DCL latch + discharge voltage limit
    cell_count: int | None = Field(None, ge=1, le=64)  # only needed if the BMS reports no cells
    # None: 50 A / 60 A for a battery; for a group no extra cap beyond its members.
    max_charge_current: float | None = Field(None, ge=0)
    max_discharge_current: float | None = Field(None, ge=0)
    # absorption → float → bulk
    absorption_hold_s: float = Field(900.0, ge=0)
    float_spread_v: float = Field(0.010, ge=0)
    absorption_margin_v: float = Field(0.05, ge=0)  # pack volts below cells × max still "at CVL"
    float_ramp_v_per_s: float = Field(0.001, gt=0)
    bulk_soc_pct: float = Field(80.0, ge=0, le=100)
    bulk_spread_v: float = Field(0.080, ge=0)
    # CVL recovery after the cell-overvoltage penalty
    cvl_hold_s: float = Field(60.0, ge=0)
    cvl_ramp_v_per_s: float = Field(0.001, gt=0)
    # CCL / DCL anti-flapping
    hold_s: float = Field(30.0, ge=0)
    ramp_a_per_s: float = Field(5.0, gt=0)
    latch_hysteresis_v: float = Field(0.1, ge=0)
    stale_after: float = Field(10.0, gt=0)
    # tables (fractions of the maximum current)
    charge_cell_voltage_table: TableConfig = _table(t.CHARGE_CELL_VOLTAGE)
    discharge_cell_voltage_table: TableConfig = _table(t.DISCHARGE_CELL_VOLTAGE)
    charge_temperature_table: TableConfig = _table(t.CHARGE_TEMPERATURE)
    discharge_temperature_table: TableConfig = _table(t.DISCHARGE_TEMPERATURE)
    mos_temperature_table: TableConfig = _table(t.MOS_TEMPERATURE)
    soc_tables: bool = False  # SoC-based limits are off by default
    alarm_limits: bool = True  # a BMS alarm sets CCL/DCL to 0 (batteries only; see alarm_limits)
    charge_soc_table: TableConfig = _table(t.CHARGE_SOC)
    discharge_soc_table: TableConfig = _table(t.DISCHARGE_SOC)
    # periodic SoC-reset charge (dbus-serialbattery SOC_RESET_AFTER_DAYS / _CELL_VOLTAGE)
    soc_reset_after_days: float | None = Field(None, gt=0)  # None: off
    soc_reset_cell_voltage: float = Field(3.65, gt=0, le=5, validate_default=True)

    @field_validator("soc_reset_cell_voltage")
    @classmethod
    def _reset_above_max(cls, value: float, info: ValidationInfo) -> float:
        top = info.data.get("cell_voltage_max")
        if info.data.get("soc_reset_after_days") and top is not None and value < top:
            raise ValueError(f"{value} V is below cell_voltage_max ({top} V)")
        return value

    @model_validator(mode="after")
    def _order(self) -> LimitsConfig:
        if not self.cell_voltage_min < self.cell_voltage_float <= self.cell_voltage_max:
            raise ValueError("need cell_voltage_min < cell_voltage_float <= cell_voltage_max")
        return self


class CoulombConfig(_Strict):
    """Own coulomb counter; present = enabled."""

    enabled: bool = True
    capacity_ah: float | None = Field(None, gt=0)  # None: the BMS-reported capacity
    charge_efficiency: float = Field(0.98, gt=0, le=1)
    current_from: str | None = None  # another battery/device whose current to integrate
    invert_current: bool = False  # flip that device's sign (+ must mean charging)
    full_cell_voltage: float | None = Field(3.45, gt=0)
    full_pack_voltage: float | None = Field(None, gt=0)
    tail_current_a: float | None = Field(None, ge=0)  # None: 4 % of capacity
    full_hold_s: float = Field(30.0, ge=0)
    empty_cell_voltage: float | None = Field(2.90, gt=0)
    empty_pack_voltage: float | None = Field(None, gt=0)
    empty_hold_s: float = Field(60.0, ge=0)
    max_gap_s: float = Field(60.0, gt=0)  # longer gaps (restart, outage) are not integrated


class ChargeSwitchConfig(_Strict):
    """batmon-ha's ``soc`` algorithm for the BMS charge switch (needs ``allow_control``)."""

    stop_soc: float = Field(ge=0, le=100)
    start_soc: float | None = Field(None, ge=0, le=100)  # None: same as stop
    calibration_days: float | None = Field(14.0, ge=0)  # None/0: no periodic full charge


class GroupConfig(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    mode: Literal["parallel", "series"] = "parallel"
    members: list[str] = Field(min_length=1)
    min_members: int | None = Field(None, ge=1)  # None: all members
    current_disagreement_a: float = Field(5.0, ge=0)  # series: warn above this spread
    coulomb_counter: CoulombConfig | None = None
    limits: LimitsConfig | None = None
    # on the group's SoC; sent to every member battery with allow_control, others left alone
    charge_switch: ChargeSwitchConfig | None = None

    @model_validator(mode="after")
    def _members(self) -> GroupConfig:
        if len(set(self.members)) != len(self.members):
            raise ValueError("a member is listed twice")
        if self.min_members is not None and self.min_members > len(self.members):
            raise ValueError("min_members is larger than the number of members")
        return self

    @field_validator("limits")
    @classmethod
    def _battery_only_keys(cls, limits: LimitsConfig | None) -> LimitsConfig | None:
        # A member's alarm zeroes its own limit, which blocks the group; a group's CVL is its
        # members' (the lowest in parallel), so a reset charge must be set on every member.
        for key in ("alarm_limits", "soc_reset_after_days", "soc_reset_cell_voltage"):
            if limits is not None and key in limits.model_fields_set:
                raise ValueError(f"{key} is set per battery, not per group")
        return limits

    @property
    def required_members(self) -> int:
        return self.min_members if self.min_members is not None else len(self.members)


def located_error(loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A validation error at a config path, for checks that need the whole config."""
    detail = InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=loc, input=value
    )
    return ValidationError.from_exception_data("Config", [detail])


def check_bank_references(batteries: Sequence[Any], groups: Sequence[GroupConfig]) -> None:
    """Unknown members, name clashes, group cycles and bad ``current_from`` → ValidationError."""
    battery_names = {b.name for b in batteries}
    group_names: dict[str, int] = {}
    for i, group in enumerate(groups):
        if group.name in battery_names or group.name in group_names:
            raise located_error(
                ("groups", i, "name"), f"name {group.name!r} is used twice", group.name
            )
        group_names[group.name] = i
    known = battery_names | set(group_names)
    for i, group in enumerate(groups):
        for j, member in enumerate(group.members):
            if member not in known:
                raise located_error(
                    ("groups", i, "members", j), f"unknown battery or group {member!r}", member
                )
    by_name = {g.name: g for g in groups}
    cycle = _find_cycle(groups, by_name)
    if cycle:
        i = group_names[cycle[0]]
        path = " → ".join(cycle)
        raise located_error(("groups", i, "members"), f"group cycle: {path}", groups[i].members)
    _check_switch_owners(batteries, groups)
    sources = [("batteries", i, b.coulomb_counter) for i, b in enumerate(batteries)]
    sources += [("groups", i, g.coulomb_counter) for i, g in enumerate(groups)]
    for section, i, counter in sources:
        source = counter.current_from if counter is not None else None
        if source is not None and source not in known:
            loc = (section, i, "coulomb_counter", "current_from")
            raise located_error(loc, f"unknown device {source!r}", source)


def _check_switch_owners(batteries: Sequence[Any], groups: Sequence[GroupConfig]) -> None:
    """A battery's charge switch follows one algorithm: its own or one group's."""
    owner = {b.name: f"battery {b.name!r}" for b in batteries if b.charge_switch is not None}
    by_name = {g.name: g for g in groups}
    for i, group in enumerate(groups):
        if group.charge_switch is None:
            continue
        for leaf in leaf_batteries(group.name, by_name):
            if leaf in owner:
                loc = ("groups", i, "charge_switch")
                message = f"member {leaf!r} already follows the charge_switch of {owner[leaf]}"
                raise located_error(loc, message, group.members)
            owner[leaf] = f"group {group.name!r}"


def leaf_batteries(name: str, groups: Mapping[str, GroupConfig]) -> list[str]:
    """The batteries under ``name`` (itself if it is not a group), in member order.

    A battery reached twice (nested groups) counts once; each group is walked once, so a
    deep ladder of groups sharing members costs linear time, not exponential.
    """
    leaves: dict[str, None] = {}
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        group = groups.get(current)
        if group is None:
            leaves.setdefault(current, None)
        elif current not in seen:
            seen.add(current)
            stack.extend(reversed(group.members))
    return list(leaves)


def _find_cycle(
    groups: Sequence[GroupConfig], by_name: Mapping[str, GroupConfig]
) -> list[str] | None:
    """One group cycle (``[a, b, a]``), or None: one depth-first walk over all groups."""
    done: set[str] = set()
    for root in groups:
        if root.name in done:
            continue
        path: list[str] = [root.name]
        on_path = {root.name}
        pending = [iter(root.members)]
        while pending:
            member = next(pending[-1], None)
            if member is None:  # every member of path[-1] explored
                pending.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if member in on_path:
                return [*path[path.index(member) :], member]
            if member in by_name and member not in done:
                path.append(member)
                on_path.add(member)
                pending.append(iter(by_name[member].members))
    return None


def group_order(groups: Sequence[GroupConfig]) -> list[GroupConfig]:
    """Groups ordered so that every group comes after the groups it contains (no recursion:
    a chain of thousands of groups is fine; cycles were rejected by the config)."""
    by_name = {g.name: g for g in groups}
    done: list[GroupConfig] = []
    seen: set[str] = set()
    for root in groups:
        if root.name in seen:
            continue
        seen.add(root.name)
        stack = [(root, iter(root.members))]
        while stack:
            group, members = stack[-1]
            member = next(members, None)
            if member is None:
                stack.pop()
                done.append(group)
            elif member in by_name and member not in seen:
                seen.add(member)
                stack.append((by_name[member], iter(by_name[member].members)))
    return done
