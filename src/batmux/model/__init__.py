"""Plain values shared by every layer: the battery sample, alarms, limits."""

from batmux.model.alarms import Alarm
from batmux.model.sample import BatterySample

__all__ = ["Alarm", "BatterySample"]
