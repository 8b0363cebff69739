"""A simulated Venus ``com.victronenergy.settings`` (localsettings), in memory.

The device side of the settings API that drivers use for VRM device instances and their own
settings (facts: victronenergy/localsettings ``README.md``, velib_python ``settingsdevice.py``):

* ``AddSetting(s group, s name, v default, s type, v min, v max) → i`` (interface
  ``com.victronenergy.Settings``) on ``/``, ``/Settings`` or any group path: the setting is
  ``<object path>/<group>/<name>``; type ``i``/``f``/``s``; min = max = 0 means no limits. An
  existing setting keeps its value. Errors: -1 called on a setting, -2 a path element starts
  with ``_``, -3 unknown type, -4 the default does not convert, -5 exists with another type.
* ``AddSettings(aa{sv}) → aa{sv}``: entries ``{"path", "default"[, "min", "max", "silent"]}``
  with the path relative to the object; the type follows the default; each result has
  ``error`` and ``path``, plus ``value`` when ``error`` is 0.
* ``com.victronenergy.BusItem`` ``GetValue``/``GetText``/``SetValue`` (0 ok, -1 refused) on
  settings, ``GetValue`` on groups (their subtree) and ``GetItems`` on ``/``;
  ``PropertiesChanged`` when ``SetValue`` changes a value.

A new ``…/ClassAndVrmInstance`` with default ``"<class>:<n>"`` gets ``n`` if no other entry of
that class holds it, otherwise the next free number above ``n`` (the README's example). A
``SetValue`` to an instance another device of the class holds is refused (the sim's choice).
Nothing is persisted: the table lives as long as this object, across ``stop()``/``start()``.
``python -m batmux.sim.venus_settings --bus ADDRESS`` serves one beside a gateway run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, Self

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from batmux.links.venus_dbus import BUSITEM, Value, connect, unwrap, wrap
from batmux.links.venus_settings import (
    INSTANCE_SETTING,
    SETTINGS_IFACE,
    SETTINGS_SERVICE,
    format_class_instance,
    parse_class_instance,
)

TYPES: dict[str, type] = {"i": int, "f": float, "s": str}


@dataclass
class Setting:
    value: Value
    default: Value
    kind: str  # "i", "f" or "s"
    minimum: float | None = None
    maximum: float | None = None


def _join(*parts: str) -> str:
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))


def _kind_of(value: object) -> str | None:
    if isinstance(value, bool | int):
        return "i"
    return "f" if isinstance(value, float) else "s" if isinstance(value, str) else None


class SimLocalSettings:
    """``com.victronenergy.settings`` on a bus; ``settings`` is the whole table."""

    def __init__(self, legacy: bool = False) -> None:
        self.legacy = legacy  # True: no AddSettings, like a localsettings from before it
        self.settings: dict[str, Setting] = {}
        self.calls: Counter[str] = Counter()  # method name → calls answered
        self._bus: MessageBus | None = None

    # -- the table (no I/O) ---------------------------------------------------------------------
    def value(self, path: str) -> Value:
        return self.settings[path].value

    def is_group(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path in ("/", "/Settings") or any(p.startswith(prefix) for p in self.settings)

    def add(self, path: str, default: Any, kind: str, minimum: Any = 0, maximum: Any = 0) -> int:
        """Add a setting unless it exists; localsettings' AddSetting error codes."""
        if "/_" in path:
            return -2
        if kind not in TYPES:
            return -3
        try:
            value = TYPES[kind](default)
            lo, hi = (None, None) if kind == "s" else (TYPES[kind](minimum), TYPES[kind](maximum))
        except (TypeError, ValueError):
            return -4
        old = self.settings.get(path)
        if old is not None:
            return 0 if old.kind == kind else -5
        if lo == 0 and hi == 0:
            lo = hi = None  # min = max = 0: no limits
        if path.endswith("/" + INSTANCE_SETTING):
            value = self._free_instance(path, value)
        self.settings[path] = Setting(value, TYPES[kind](default), kind, lo, hi)
        return 0

    def _free_instance(self, path: str, proposed: Value) -> Value:
        parsed = parse_class_instance(proposed)
        if parsed is None:
            return proposed
        device_class, number = parsed
        taken = self._instances(device_class, exclude=path)
        while number in taken:
            number += 1
        return format_class_instance(device_class, number)

    def _instances(self, device_class: str, exclude: str) -> set[int]:
        out = set()
        for path, setting in self.settings.items():
            if path == exclude or not path.endswith("/" + INSTANCE_SETTING):
                continue
            parsed = parse_class_instance(setting.value)
            if parsed is not None and parsed[0] == device_class:
                out.add(parsed[1])
        return out

    def set(self, path: str, new: Any) -> int:
        """SetValue: 0 accepted (or unchanged), -1 refused."""
        setting = self.settings[path]
        try:
            value = TYPES[setting.kind](new)
        except (TypeError, ValueError):
            return -1
        limited = setting.minimum is not None and setting.maximum is not None
        if limited and not setting.minimum <= value <= setting.maximum:  # type: ignore[operator]
            return -1
        if path.endswith("/" + INSTANCE_SETTING):
            parsed = parse_class_instance(value)
            if parsed is None or parsed[1] in self._instances(parsed[0], exclude=path):
                return -1
        if value != setting.value:
            setting.value = value
            self._changed(path)
        return 0

    # -- the bus --------------------------------------------------------------------------------
    async def start(self, bus_address: str | None = None) -> Self:
        self._bus = await connect(bus_address)
        self._bus.add_message_handler(self._handle)
        await self._bus.request_name(SETTINGS_SERVICE)
        return self

    async def stop(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _changed(self, path: str) -> None:
        if self._bus is None:
            return
        value = self.settings[path].value
        item = {"Value": wrap(value), "Text": Variant("s", str(value))}
        self._bus.send(Message.new_signal(path, BUSITEM, "PropertiesChanged", "a{sv}", [item]))

    def _handle(self, msg: Message) -> Message | None:
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        reply = self._answer(msg)
        if reply is not None:
            self.calls[msg.member] += 1
        return reply

    def _answer(self, msg: Message) -> Message | None:
        path, member, sig = msg.path, msg.member, msg.signature
        if member in ("AddSetting", "AddSettings"):
            if msg.interface not in (None, SETTINGS_IFACE):
                return None
        elif msg.interface not in (None, BUSITEM):
            return None
        if path in self.settings:
            setting = self.settings[path]
            if member == "GetValue":
                return Message.new_method_return(msg, "v", [wrap(setting.value)])
            if member == "GetText":
                return Message.new_method_return(msg, "s", [str(setting.value)])
            if member == "SetValue" and sig == "v":
                return Message.new_method_return(msg, "i", [self.set(path, unwrap(msg.body[0]))])
            if member in ("AddSetting", "AddSettings"):
                return Message.new_method_return(msg, "i", [-1])
            return None
        if not self.is_group(path):
            return None  # no such object: dbus-fast answers "unknown method"
        if member == "AddSetting" and sig == "ssvsvv":
            group, name, default, kind, lo, hi = msg.body
            code = self.add(_join(path, group, name), default.value, kind, lo.value, hi.value)
            return Message.new_method_return(msg, "i", [code])
        if member == "AddSettings" and sig == "aa{sv}" and not self.legacy:
            results = [self._add_entry(path, entry) for entry in msg.body[0]]
            return Message.new_method_return(msg, "aa{sv}", [results])
        if member == "GetValue":
            return Message.new_method_return(msg, "v", [self._subtree(path)])
        if member == "GetItems" and path == "/":
            items = {
                p: {"Value": wrap(s.value), "Text": Variant("s", str(s.value))}
                for p, s in self.settings.items()
            }
            return Message.new_method_return(msg, "a{sa{sv}}", [items])
        return None

    def _add_entry(self, base: str, entry: dict[str, Variant]) -> dict[str, Variant]:
        given = entry.get("path")
        if given is None or given.signature != "s":
            return {"error": Variant("i", -1)}
        out = {"path": given}
        default = entry.get("default")
        kind = _kind_of(unwrap(default)) if default is not None else None
        if default is None or kind is None:
            return {**out, "error": Variant("i", -3)}
        lo, hi = (entry[k].value if k in entry else 0 for k in ("min", "max"))
        path = _join(base, given.value)
        code = self.add(path, default.value, kind, lo, hi)
        if code != 0:
            return {**out, "error": Variant("i", code)}
        return {**out, "error": Variant("i", 0), "value": wrap(self.settings[path].value)}

    def _subtree(self, path: str) -> Variant:
        prefix = "/" if path == "/" else path.rstrip("/") + "/"
        items = self.settings.items()
        below = {p[len(prefix) :]: wrap(s.value) for p, s in items if p.startswith(prefix)}
        return Variant("a{sv}", below)


async def _serve(bus_address: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with await SimLocalSettings().start(bus_address) as sim:
        print(f"serving {SETTINGS_SERVICE}", file=sys.stderr, flush=True)
        await stop.wait()
        for path, setting in sorted(sim.settings.items()):
            print(f"{path} = {setting.value!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m batmux.sim.venus_settings [--bus ADDRESS]``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m batmux.sim.venus_settings",
        description=f"Serve a simulated {SETTINGS_SERVICE} (nothing is saved).",
    )
    parser.add_argument(
        "--bus", metavar="ADDRESS", help="default: the system bus ($DBUS_SYSTEM_BUS_ADDRESS)"
    )
    asyncio.run(_serve(parser.parse_args(argv).bus))
    return 0


if __name__ == "__main__":
    sys.exit(main())
