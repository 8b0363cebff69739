"""``batmux scan``: find BLE batteries nearby, guess their type, write a starter config.

Recognition is pure (``guess_type``) and generic over the registry: every BLE type's driver
carries a ``BleSpec`` (name regexes, service UUID, manufacturer ids); ``ADVERTISING_HINTS`` adds
what is known about how a family *advertises* (which can differ from its GATT service, e.g. SOK
advertises FFF0 but serves FFE0). A hint only counts when its type is registered, so a guess is
always a valid config ``type:``. Scores: name 4, manufacturer id 2, advertised service 1; the
best type wins if it scores at least 2 and no other type ties with it (a bare FFE0 service is
shared by JK, ANT and SOK and proves nothing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from batmux.devices.registry import DEVICE_TYPES, load
from batmux.links.ble import uuid16

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"


@dataclass(frozen=True, slots=True)
class Hints:
    """How one family shows itself in advertisements."""

    name_patterns: tuple[str, ...] = ()
    service_uuids: tuple[str, ...] = ()
    manufacturer_ids: tuple[int, ...] = ()


# Sources: shared/protocols/ble.md sections 1.1, 2.1, 3, 4.1, 5, 6, 7.2.
ADVERTISING_HINTS: dict[str, Hints] = {
    "jk": Hints((r"^JK[-_ ]?", r"^JK\d"), (uuid16(0xFFE0),), (0x0B65, 0x4B4A)),
    "jbd": Hints(
        (r"^JBD", r"^SP\d{2}S", r"^DP04S", r"^xiaoxiang", r"^SX1", r"^SX60"), (uuid16(0xFF00),)
    ),
    "daly_modbus": Hints((r"^DL-",), (uuid16(0xFFF0),), (0x0102, 0x0104, 0x0302, 0x0303, 0x0402)),
    "daly": Hints((), (uuid16(0xFFF0),)),
    "ant": Hints((r"^ANT-BLE",), (uuid16(0xFFE0),)),
    "supervolt": Hints((r"^libatt",), (NUS_SERVICE,)),
    "sok": Hints((r"^SOK-", r"^ABC-", r"^NB-"), (uuid16(0xFFF0),)),
    "victron_smartshunt": Hints((r"^SmartShunt",), (), (0x02E1,)),
}


def registered_hints() -> dict[str, Hints]:
    """Hints of every registered BLE type: its driver's ``BleSpec`` merged with the table.

    Types that share a driver (``jk``, ``jk02_24s``, ``jk02_32s``) are one family; the first
    registered name stands for it. A driver that cannot be imported contributes only its hints.
    """
    hints: dict[str, Hints] = {}
    seen_drivers: set[str] = set()
    for name, device_type in DEVICE_TYPES.items():
        if device_type.transport != "ble":
            continue
        if device_type.driver in seen_drivers:
            continue
        if device_type.driver:
            seen_drivers.add(device_type.driver)
        names, services, makers = _spec_hints(device_type.driver)
        extra = ADVERTISING_HINTS.get(name, Hints())
        hints[name] = Hints(
            tuple(dict.fromkeys((*names, *extra.name_patterns))),
            tuple(dict.fromkeys((*services, *extra.service_uuids))),
            tuple(dict.fromkeys((*makers, *extra.manufacturer_ids))),
        )
    return hints


def _spec_hints(driver_ref: str | None) -> tuple[Sequence[str], Sequence[str], Sequence[int]]:
    if not driver_ref:
        return (), (), ()
    try:
        spec = load(driver_ref).spec
    except (ImportError, AttributeError):
        return (), (), ()
    return spec.name_patterns, (spec.service_uuid,), spec.manufacturer_ids


def _normalize_uuid(uuid: str) -> str:
    uuid = uuid.lower()
    return uuid16(int(uuid, 16)) if len(uuid) == 4 else uuid


def guess_type(
    name: str | None,
    service_uuids: Iterable[str],
    manufacturer_data: Mapping[int, bytes],
    hints: Mapping[str, Hints] | None = None,
) -> str | None:
    """The config ``type:`` an advertisement most likely belongs to, or None."""
    hints = registered_hints() if hints is None else hints
    services = {_normalize_uuid(u) for u in service_uuids}
    scores: dict[str, int] = {}
    for type_name, hint in hints.items():
        score = 0
        if name and any(re.search(p, name) for p in hint.name_patterns):
            score += 4
        if any(m in manufacturer_data for m in hint.manufacturer_ids):
            score += 2
        if services & {_normalize_uuid(u) for u in hint.service_uuids}:
            score += 1
        if score:
            scores[type_name] = score
    if not scores:
        return None
    best = max(scores.values())
    winners = [t for t, s in scores.items() if s == best]
    return winners[0] if best >= 2 and len(winners) == 1 else None


@dataclass(frozen=True, slots=True)
class ScanResult:
    mac: str
    name: str
    rssi: int
    guessed_type: str | None
    service_uuids: tuple[str, ...] = field(default=(), compare=False)
    manufacturer_ids: tuple[int, ...] = field(default=(), compare=False)


async def scan(timeout: float = 10.0, adapter: str | None = None) -> list[ScanResult]:
    """Listen for ``timeout`` seconds; every device seen, strongest signal first."""
    from bleak import BleakScanner

    from batmux.links.bluez_status import BUS_ERRORS, translate

    bluez = {"adapter": adapter} if adapter else {}
    try:
        found = await BleakScanner.discover(timeout=timeout, return_adv=True, bluez=bluez)  # type: ignore[arg-type]
    except BUS_ERRORS as exc:  # no bus, no bluetoothd, no adapter: one line, not a traceback
        raise translate(exc, "scan failed", adapter) from exc
    hints = registered_hints()
    results = [
        ScanResult(
            mac=device.address.upper(),
            name=adv.local_name or device.name or "",
            rssi=adv.rssi,
            guessed_type=guess_type(
                adv.local_name or device.name, adv.service_uuids, adv.manufacturer_data, hints
            ),
            service_uuids=tuple(adv.service_uuids),
            manufacturer_ids=tuple(adv.manufacturer_data),
        )
        for device, adv in found.values()
    ]
    return sorted(results, key=lambda r: (r.guessed_type is None, -r.rssi, r.mac))


def _config_name(result: ScanResult, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", result.name).strip("_-")[:40]
    base = base or f"{result.guessed_type}_{result.mac.replace(':', '')[-6:].lower()}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def starter_config(results: Sequence[ScanResult], adapter: str | None = None) -> str:
    """YAML text with one ``batteries:`` entry per recognised device (others as comments)."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    lines = [f"# Written by `batmux scan` on {stamp}. Check every type before use.", "batteries:"]
    taken: set[str] = set()
    recognised = [r for r in results if r.guessed_type]
    for r in recognised:
        lines += [
            f"  - name: {_config_name(r, taken)}  # advertised as {r.name!r}, RSSI {r.rssi} dBm",
            f"    type: {r.guessed_type}",
            f'    address: "{r.mac}"',
        ]
        if adapter:
            lines.append(f"    adapter: {adapter}")
    if not recognised:
        lines[-1] = "batteries: []"
    others = [r for r in results if not r.guessed_type]
    if others:
        lines.append("# Seen but not recognised (set `type:` yourself if one is a battery):")
        lines += [f"#   {r.mac}  {r.name or '(no name)'}  RSSI {r.rssi} dBm" for r in others]
    return "\n".join(lines) + "\n"
