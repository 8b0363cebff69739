"""The ``can:`` config block shared by CAN batteries and CAN inverter links (pydantic only)."""

from __future__ import annotations

from batmux.modelkit import BaseModel, ConfigDict, Field


class CanBusConfig(BaseModel):
    """One python-can bus: ``interface`` is any python-can interface name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interface: str = "socketcan"  # socketcan, slcan, virtual, pcan, gs_usb, ...
    channel: str = "can0"
    bitrate: int = Field(500_000, gt=0)
    log: str | None = None  # candump-format log of every frame sent and received
    # extra keyword arguments for the interface (e.g. slcan ``tty_baudrate``)
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
