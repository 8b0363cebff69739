"""The ``batrium:`` section of a ``type: batrium`` battery (kept light: config imports it)."""

from __future__ import annotations

from batmux.modelkit import BaseModel, ConfigDict, Field

DEFAULT_BASE_ID = 0x500  # Battery-Emulator's wiki: set the WatchMon's native CAN base to 0x500


class BatriumOptions(BaseModel):
    """``base_id``: the WatchMon's CAN base id (YAML ``0x500`` and ``1280`` are the same)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_id: int = Field(DEFAULT_BASE_ID, ge=0, le=0x1FFFFFEE)
