"""Expected values of shared vectors that a later, documented decision superseded.

``tests/vectors/superseded/<family>.json`` maps a shared vector's name to the fields whose
expected value changed, with ``why`` (the issue and the evidence). The shared files stay as
captured; the contract applies these on top, so the change is visible and reviewable here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_FOLDER = Path(__file__).parent / "vectors" / "superseded"


def _load() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for path in sorted(_FOLDER.glob("*.json")):
        for name, entry in json.loads(path.read_text()).items():
            assert entry.get("why"), f"{path.name}: {name}: say why the value changed"
            table[name] = entry["expected"]
    return table


SUPERSEDED = _load()


def current_expected(name: str, expected: dict[str, Any]) -> dict[str, Any]:
    """``expected`` with the superseded fields of vector ``name`` replaced."""
    return {**expected, **SUPERSEDED.get(name, {})}
