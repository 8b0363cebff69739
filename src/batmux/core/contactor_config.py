"""``contactors:`` of an EV pack (needs ``allow_control: true``; see docs/ev-packs.md)."""

from __future__ import annotations

from pydantic import Field

from batmux.core.bank_config import _Strict


class ContactorsConfig(_Strict):
    close_on_start: bool = False  # close at start once the interlocks hold
    close_timeout_s: float = Field(10.0, gt=0)  # precharge + closing must finish within this
    open_step_s: float = Field(3.0, gt=0)  # ACCESSORY, GOING_DOWN, OFF: this long each
