"""Decode cost per JK02 frame (reassembly + decode), in µs.

Baseline: the field's Python readers decode JK02 field by field (aiobmsble walks a table of
offsets with one ``int.from_bytes`` and one conversion call per field; batmon-ha and
dbus-serialbattery unpack per field too). aiobmsble needs Python >= 3.12 and the other two are
not packaged, so none can be installed beside batmux here; ``field_style_decode`` re-creates
that per-field table pattern (our own code, same fields) so the ratio compares the two
approaches on the same machine and the same frames.

    uv run python bench/bench_decode.py

Each candidate runs 15 times interleaved with the others; the best run counts (see
``per_frame_us``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batmux.protocols import jk

SHARED = Path(os.environ.get("BATMUX_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def frames() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted((SHARED / "vectors" / "ble").glob("jk02_*.json")):
        vector = json.loads(path.read_text())
        stream = b"".join(bytes.fromhex(f) for f in vector["frames"])
        out.append((vector["protocol"], stream))
    return out


# The field's table-driven pattern (as in aiobmsble's JK driver): (key, offset, size, signed,
# conversion) tuples walked with one ``int.from_bytes`` and one lambda call per field, cells
# and temperatures in loops, then derived values (power, cell min/max/delta) added afterwards.
FIELDS = (
    ("voltage", 118, 4, False, lambda x: x / 1000),
    ("current", 126, 4, True, lambda x: x / 1000),
    ("balance_current", 138, 2, True, lambda x: x / 1000),
    ("battery_level", 141, 1, False, lambda x: x),
    ("cycle_charge", 142, 4, False, lambda x: x / 1000),
    ("design_capacity", 146, 4, False, lambda x: x / 1000),
    ("cycles", 150, 4, False, lambda x: x),
    ("cycle_capacity", 154, 4, False, lambda x: x / 1000),
    ("soh", 158, 1, False, lambda x: x),
    ("runtime", 162, 4, False, lambda x: x),
    ("chrg_mosfet", 166, 1, False, bool),
    ("dischrg_mosfet", 167, 1, False, bool),
    ("balancer", 140, 1, False, bool),
    ("problem_code", 134, 4, False, lambda x: x),
)


def field_style_decode(frame: bytes, offset: int) -> dict[str, object]:
    """The field's per-field table loop (for comparison only; our own code)."""
    data: dict[str, object] = {
        key: fct(int.from_bytes(frame[pos + offset : pos + offset + size], "little", signed=sig))
        for key, pos, size, sig, fct in FIELDS
    }
    mask = int.from_bytes(frame[54 + offset // 2 : 58 + offset // 2], "little")
    data["cell_voltages"] = [
        int.from_bytes(frame[6 + 2 * i : 8 + 2 * i], "little") / 1000
        for i in range(mask.bit_count())
    ]
    data["temp_values"] = [
        int.from_bytes(frame[pos + offset : pos + offset + 2], "little", signed=True) / 10
        for pos in (130, 132)
    ]
    cells = data["cell_voltages"]
    data["power"] = data["voltage"] * data["current"]  # type: ignore[operator]
    if cells:
        data["cell_min"], data["cell_max"] = min(cells), max(cells)  # type: ignore[type-var]
        data["delta_voltage"] = round(data["cell_max"] - data["cell_min"], 3)  # type: ignore[operator]
    return data


def per_frame_us(fns: dict[str, Callable[[Any], None]], items: list, rounds: int) -> dict:
    """Best-of-N µs per frame for each function, measured interleaved (round-robin).

    The build box is shared: interleaving exposes every candidate to the same load, and the
    minimum of many short runs is the cost with the least interference.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(15):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(rounds):
                for item in items:
                    fn(item)
            times[name].append((time.perf_counter() - start) / (rounds * len(items)) * 1e6)
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    items = frames()
    codecs = {"jk02_24s": jk.Jk24sCodec, "jk02_32s": jk.Jk32sCodec}

    def ours(item: tuple[str, bytes]) -> None:
        codec = codecs[item[0]]()
        codec.decode(codec.feed(item[1]))

    def decode_only(item: tuple[str, bytes]) -> None:
        protocol, stream = item
        layout = jk.JK02_24S if protocol == "jk02_24s" else jk.JK02_32S
        jk.decode_cell_info(stream[-300:], layout)

    def baseline(item: tuple[str, bytes]) -> None:
        protocol, stream = item
        frame = stream[-300:]
        if sum(frame[:299]) & 0xFF == frame[299]:
            field_style_decode(frame, 0 if protocol == "jk02_24s" else 32)

    best = per_frame_us(
        {"ours": ours, "decode": decode_only, "baseline": baseline}, items, rounds=100
    )
    ours_us, decode_us, base_us = best["ours"], best["decode"], best["baseline"]
    print(f"frames: {len(items)} JK02 vectors")
    print(f"batmux feed+decode      {ours_us:7.1f} µs/frame")
    print(f"batmux decode only      {decode_us:7.1f} µs/frame")
    print(f"field-style table loop  {base_us:7.1f} µs/frame (checksum + per-field decode)")
    print(f"ratio batmux/field-style {ours_us / base_us:5.2f} (feed+decode vs checksum+decode)")


if __name__ == "__main__":
    main()
