"""The GATT table a fake device exports, and UUIDs spelled the way BlueZ spells them.

A ``SimDevice`` may declare its whole table (``characteristics``: several characteristics, each
with its own flags); a ``FakeDevice`` may override it per test. Without either the table is the
classic BMS layout: one characteristic that notifies and takes writes, or a notify one and a
write one.
"""

from __future__ import annotations

from batmux.links.ble import uuid16
from batmux.sim.peripheral import CharSpec, SimDevice

NOTIFY_FLAGS = ("notify", "indicate")
WRITE_FLAGS = ("write", "write-without-response")


def bluez_uuid(uuid: str) -> str:
    """BlueZ exports 128-bit lowercase UUIDs; a 16-bit one (``FFE1``) gets the SIG base."""
    text = uuid.strip().lower()
    if len(text) == 4:
        return uuid16(int(text, 16))
    if len(text) == 8:
        return f"{text}-0000-1000-8000-00805f9b34fb"
    return text


def gatt_table(sim: SimDevice, override: tuple[CharSpec, ...] = ()) -> list[CharSpec]:
    """The characteristics to export, in handle order (a repeated UUID is a device bug)."""
    notify, write = sim.notify_uuid, sim.write_uuid
    if override or sim.characteristics:
        table = list(override or sim.characteristics)
    elif bluez_uuid(notify) == bluez_uuid(write):
        table = [CharSpec(notify, ("read", "write-without-response", "write", "notify"))]
    else:
        table = [
            CharSpec(notify, ("read", "notify")),
            CharSpec(write, ("write-without-response", "write")),
        ]
    seen = [bluez_uuid(c.uuid) for c in table]
    if len(set(seen)) != len(seen):
        raise ValueError(f"characteristic UUIDs repeat: {seen}")
    return table
