"""``contactors:`` of an EV pack (needs ``allow_control: true``; see docs/ev-packs.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batmux.core.bank_config import _Strict
from batmux.modelkit import Field


class CarConfigSettings(_Strict):
    """Tesla 0x7FF GTW_carConfig (``protocols.tesla_presence.CarConfig``): match the donor car."""

    country: str = Field("DE", pattern="^[A-Z]{2}$")
    right_hand_drive: bool = True
    map_region: int = Field(2, ge=0, le=15)
    chassis: int = Field(2, ge=0, le=7)
    pack_energy: int = Field(1, ge=0, le=31)


class ContactorsConfig(_Strict):
    close_on_start: bool = False  # close at start once the interlocks hold
    close_timeout_s: float = Field(10.0, gt=0)  # precharge + closing must finish within this
    open_step_s: float = Field(3.0, gt=0)  # ACCESSORY, GOING_DOWN, OFF: this long each
    # the keep-alive's own bound: no good sample for this long → open (default: the battery's
    # limits.stale_after), so a hung sampling loop cannot keep the pack closed
    max_sample_age_s: float | None = Field(None, gt=0)
    # open when the inverter output(s) serving this pack heard nothing for this long (s)
    open_on_inverter_silent: float | None = Field(None, gt=0)
    inverter: str | None = None  # the inverter link to watch (default: all serving the pack)
    # Tesla: the vehicle-presence frames besides 0x221 (0x118, 0x2E1, 0x3C2, ...); false for
    # old pack firmware that closes on 0x221 alone
    presence_frames: bool = True
    car_config: CarConfigSettings = Field(default_factory=CarConfigSettings)


def serving_inverters(pack: str, inverters: Sequence[Any], groups: Sequence[Any]) -> list[str]:
    """Link names of the inverters whose ``battery:`` is ``pack`` or a group holding it
    (through nested groups too)."""
    holders = {pack}
    changed = True
    while changed:  # groups of groups: grow until nothing new (cycles are rejected elsewhere)
        changed = False
        for group in groups:
            if group.name not in holders and holders & set(group.members):
                holders.add(group.name)
                changed = True
    return [i.link_name for i in inverters if i.battery in holders]


def check_inverter_watch(batteries: Sequence[Any], inverters: Sequence[Any], groups: Any) -> None:
    """``open_on_inverter_silent`` needs an inverter to watch; ``inverter:`` must exist."""
    names = {i.link_name for i in inverters}
    for battery in batteries:
        cfg = battery.contactors
        if cfg is None:
            continue
        if cfg.inverter is not None and cfg.inverter not in names:
            known = ", ".join(sorted(names)) or "none"
            raise ValueError(
                f"battery {battery.name!r}: contactors.inverter {cfg.inverter!r} is not a "
                f"configured inverter (known: {known})"
            )
        watched = (
            [cfg.inverter] if cfg.inverter else serving_inverters(battery.name, inverters, groups)
        )
        if cfg.open_on_inverter_silent is not None and not watched:
            raise ValueError(
                f"battery {battery.name!r}: contactors.open_on_inverter_silent needs an "
                "inverter that serves this pack (inverters: battery:) or contactors.inverter"
            )
