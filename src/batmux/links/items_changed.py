"""The ``ItemsChanged`` signal of a Venus service, marshalled straight to bytes.

A Venus service sends one of these per publish: ``a{sa{sv}}``, each changed path mapped to
``{"Value": <v>, "Text": <s>}``. dbus-fast marshals it generically (two ``Variant`` objects and
a signature walk per path); this writes the same bytes from the plain values, because the shape
never changes. ``tests/links/test_items_changed.py`` checks byte equality with dbus-fast's own
``Message`` marshalling. The message still goes through ``MessageBus.send`` (serial, queue,
order), which asks it for its bytes through ``Message._marshall``: a private method, so
``tests/sinks/test_venus_service.py`` reads the signal back on a real bus, and would fail if a
dbus-fast release stopped calling it.

Layout (D-Bus wire format, little endian; offsets inside the body, which starts 8-aligned):

    u32 array length, 4 zero bytes (dict entries are 8-aligned)
    per path, 8-aligned:  u32 len, path, NUL, pad to 4 | u32 inner length | pad to 8 |
        05 00 00 00 "Value" 00 | signature (01 "d" 00 ...) | pad | the value | pad to 8 |
        04 00 00 00 "Text" 00 01 "s" 00 | u32 len, text, NUL

Values map as ``venus_dbus.wrap`` maps them: float → ``d``, int → ``i`` (``x`` beyond 32 bits),
bool → ``i``, str → ``s``, None → ``ai`` (an empty array: Venus's "invalid").
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from functools import lru_cache

from dbus_fast import Message, MessageType

from batmux.links.venus_dbus import BUSITEM, INT32_MAX, INT32_MIN, Value

SIGNATURE = "a{sa{sv}}"
_U32 = struct.Struct("<I").pack
_I32 = struct.Struct("<i").pack
_I64 = struct.Struct("<q").pack
_F64 = struct.Struct("<d").pack
_ZEROS = bytes(8)

# "Value" key (10 bytes) + the variant's signature, padded to offset 16 where every value starts
# (16 is aligned for each of them). The pad bytes after a 4-byte value come with it.
_VALUE_D = b"\x05\x00\x00\x00Value\x00\x01d\x00\x00\x00\x00"
_VALUE_I = b"\x05\x00\x00\x00Value\x00\x01i\x00\x00\x00\x00"
_VALUE_X = b"\x05\x00\x00\x00Value\x00\x01x\x00\x00\x00\x00"
_VALUE_S = b"\x05\x00\x00\x00Value\x00\x01s\x00\x00\x00\x00"
# ai: signature to 14, pad to 16, length 0, pad to 24
_VALUE_NONE = b"\x05\x00\x00\x00Value\x00\x02ai\x00" + bytes(10)
_TEXT = b"\x04\x00\x00\x00Text\x00\x01s\x00"  # 12 bytes: the text's length follows, aligned
_FLOAT_INNER = 16 + 8 + 12 + 4 + 1  # a float's inner array without its text's bytes
# The text's NUL and the pad to the next entry, by the inner array's length mod 8.
_ENDS = tuple(b"\x00" + _ZEROS[: -(r + 1) & 7] for r in range(8))


def _string(text: str) -> bytes:
    raw = text.encode()
    return _U32(len(raw)) + raw + b"\x00"


class _Key:
    """What never changes in a path's entry: the path as a string padded to 4, the pad after
    the inner array's length, and one ``pack`` for a float's entry up to its text."""

    __slots__ = ("key", "pack_float", "pad")

    def __init__(self, path: str) -> None:
        key = _string(path)
        self.key = key + _ZEROS[: -len(key) & 3]
        self.pad = _ZEROS[: -(len(self.key) + 4) & 7]
        layout = f"<{len(self.key)}sI{len(self.pad)}x16sd12sI"
        self.pack_float = struct.Struct(layout).pack


_KEYS: dict[str, _Key] = {}  # a service has ~150 paths; bounded below for odd callers


def _key(path: str) -> _Key:
    key = _Key(path)
    if len(_KEYS) < 4096:
        _KEYS[path] = key
    return key


def _value(value: Value) -> bytes:
    """The ``Value`` entry up to the ``Text`` entry (padded to 8)."""
    if type(value) is float:
        return _VALUE_D + _F64(value)
    if value is None:
        return _VALUE_NONE
    if isinstance(value, int):
        if INT32_MIN <= value <= INT32_MAX:
            return _VALUE_I + _I32(value) + b"\x00\x00\x00\x00"
        return _VALUE_X + _I64(value)
    if isinstance(value, float):  # a float subclass
        return _VALUE_D + _F64(value)
    raw = _string(str(value))
    return _VALUE_S + raw + _ZEROS[: -len(raw) & 7]


def items_changed_body(values: Mapping[str, Value], text: Callable[[str, Value], str]) -> bytes:
    """The body for ``{path: value}`` with ``text(path, value)``, as dbus-fast marshals it."""
    out = bytearray(8)  # the array's length, filled in last, and the pad to the first entry
    tail = 0
    for path, value in values.items():
        k = _KEYS.get(path) or _key(path)
        raw = text(path, value).encode()
        n = len(raw)
        if type(value) is float:  # most changes: the entry up to the text in one pack
            size = _FLOAT_INNER + n
            out += k.pack_float(k.key, size, _VALUE_D, value, _TEXT, n)
            out += raw
            out += _ENDS[(size - 1) & 7]
        else:
            inner = _value(value) + _TEXT + _U32(n) + raw + b"\x00"
            size = len(inner)
            out += k.key
            out += _U32(size)
            out += k.pad
            out += inner
            out += _ZEROS[: -size & 7]
        tail = -size & 7  # entries start 8-aligned; the array ends with its last entry
    if tail:
        del out[-tail:]
    out[:4] = _U32(len(out) - 8)
    return bytes(out)


@lru_cache(maxsize=1)
def _header_fields() -> bytes:
    """The header after its first 12 bytes (the fields array, padded to 8): the same for every
    ItemsChanged, so taken once from dbus-fast's own marshalling."""
    sample = Message.new_signal("/", BUSITEM, "ItemsChanged", SIGNATURE, [{}])
    sample.serial = 1
    raw = bytes(sample._marshall(False))
    (body_len,) = struct.unpack_from("<I", raw, 4)
    return raw[12 : len(raw) - body_len]


_FIXED = b"l" + bytes((MessageType.SIGNAL.value, 0, 1))  # little endian, signal, no flags, v1


class ItemsChangedSignal(Message):
    """An ``ItemsChanged`` on ``/`` whose body is already bytes; ``MessageBus.send`` numbers it
    and asks it for its bytes (``_marshall``) when it queues it."""

    def __init__(self, body: bytes) -> None:
        super().__init__(
            path="/",
            interface=BUSITEM,
            member="ItemsChanged",
            message_type=MessageType.SIGNAL,
            signature=SIGNATURE,
            validate=False,  # constants, checked by the tests
        )
        self.raw_body = body

    def _marshall(self, negotiate_unix_fd: bool) -> bytes:
        body = self.raw_body
        return _FIXED + _U32(len(body)) + _U32(self.serial) + _header_fields() + body
