"""The batmux exception tree.

    BatmuxError
    ├── ConfigError                  bad config: names file, field path and reason
    ├── ProtocolError                a codec could not make sense of bytes
    │   ├── CorruptFrame             checksum/CRC/header wrong
    │   ├── TruncatedFrame           frame shorter than its layout
    │   └── ImplausibleSample        decoded fine, but values are physically impossible
    ├── LinkError                    a transport failed (translated from bleak, serial, ...)
    │   ├── DeviceNotFound           the device was not seen / not reachable
    │   └── LinkTimeout              nothing arrived in time (also a TimeoutError)
    ├── NoData                       a push source has no fresh sample yet
    │   └── SourceOffline            its data is gone (a remote gateway says offline): stale now
    └── ControlRefused               a write was asked for without `allow_control`

"Nothing arrived" (LinkTimeout), "corrupt frame" (ProtocolError) and "implausible values"
(ImplausibleSample) stay distinct so health counters tell users what really goes wrong.
ImplausibleSample is a ProtocolError because every codec's ``decode`` raises it (a checksum-valid
frame whose values cannot be true is a frame the codec could not make sense of); catch it before
ProtocolError where the two are counted apart.
"""

from __future__ import annotations


class BatmuxError(Exception):
    """Base of every error batmux raises on purpose."""


EXIT_CONFIG = 2  # the exit code of every command refused for its config, start-up check included


class ConfigError(BatmuxError):
    """A config file that cannot be used; ``str()`` is the one line shown to the user."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file = file
        self.field = field
        self.reason = reason
        super().__init__(f"{file}: {field}: {reason}" if field else f"{file}: {reason}")


class ProtocolError(BatmuxError):
    """Bytes that a codec cannot decode."""


class CorruptFrame(ProtocolError):
    """Checksum, CRC, header or length byte is wrong."""


class TruncatedFrame(ProtocolError):
    """The frame ends before its layout does."""


class ImplausibleSample(ProtocolError):
    """Decoded values that cannot be physically true (a 9 V LFP cell, SoC 250 %)."""


class LinkError(BatmuxError):
    """A transport failed."""


class DeviceNotFound(LinkError):
    """The device could not be found or reached."""


class LinkTimeout(LinkError, TimeoutError):
    """Nothing arrived within the deadline."""


class NoData(BatmuxError):
    """A push-driven source has not received a fresh sample yet."""


class SourceOffline(NoData):
    """The source knows its data is gone (e.g. a remote gateway's availability is offline).

    The runtime makes the battery unavailable at once instead of waiting for it to age out."""


class ControlRefused(BatmuxError):
    """A write to a device that the config does not allow to be controlled."""
