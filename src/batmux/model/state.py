"""The published view of one battery or group: what every sink reads.

The runtime builds one ``BatteryState`` per battery/group per publish period and hands it to
the ``StateHub``; sinks never see raw device traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batmux.model.limits import ChargeLimits
from batmux.model.sample import BatterySample


@dataclass(frozen=True, slots=True)
class Meters:
    """Energy meters and cycles (kWh, positive counters only increase)."""

    charged_kwh: float = 0.0
    discharged_kwh: float = 0.0
    cycles: float = 0.0

    @property
    def net_kwh(self) -> float:
        return round(self.charged_kwh - self.discharged_kwh, 6)

    def to_json(self) -> dict[str, float]:
        return {
            "total_charged_kwh": round(self.charged_kwh, 4),
            "total_discharged_kwh": round(self.discharged_kwh, 4),
            "net_kwh": round(self.net_kwh, 4),
            "meter_cycles": round(self.cycles, 3),
        }


@dataclass(frozen=True, slots=True)
class MemberCounts:
    """How the members of a group stand (groups only)."""

    online: int = 0
    offline: int = 0
    blocking_charge: int = 0
    blocking_discharge: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "members_online": self.online,
            "members_offline": self.offline,
            "members_blocking_charge": self.blocking_charge,
            "members_blocking_discharge": self.blocking_discharge,
        }


@dataclass(frozen=True, slots=True)
class BatteryState:
    """One battery or group as sinks see it."""

    name: str
    available: bool
    sample: BatterySample | None  # averaged over the publish period; None before the first
    meters: Meters = Meters()
    limits: ChargeLimits | None = None
    members: MemberCounts | None = None  # set for groups
    is_group: bool = False
    last_good_at: float = 0.0  # wall-clock time of the newest good sample
    diagnostics: dict[str, Any] = field(default_factory=dict)
    time_to_go_s: int | None = None  # set by the bank engine (core.time_to_go); None = unknown

    def to_json(self) -> dict[str, Any]:
        """The MQTT state JSON: sample fields, cell stats, meters, limits, member counts,
        ``time_to_go`` (always present, null when unknown)."""
        out: dict[str, Any] = {}
        if self.sample is not None:
            out.update(self.sample.to_json())
            out.update(self.sample.cell_stats_json())
            if self.is_group:  # an index into the members' joined cells means nothing to a user
                for key, member_key in (
                    ("cell_min_id", "min_cell_id"),
                    ("cell_max_id", "max_cell_id"),
                ):
                    if member_key in self.sample.extra:
                        out[key] = self.sample.extra[member_key]
            out["timestamp"] = round(self.sample.timestamp, 3)
        out.update(self.meters.to_json())
        out["time_to_go"] = self.time_to_go_s
        if self.limits is not None:
            out.update(self.limits.to_json())
        if self.members is not None:
            out.update(self.members.to_json())
        out["available"] = self.available
        return out
