"""JSON text for every MQTT payload batmux publishes: strict JSON, never ``NaN``/``Infinity``.

Python's ``json`` writes a non-finite float as ``NaN``/``Infinity``, which is not JSON: Home
Assistant and most other consumers reject the whole message. A non-finite value can only mean
"unknown", so it goes out as ``null``. The common case (every number finite) costs nothing more.
"""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that writes ``null`` for NaN and ±infinity."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:  # a non-finite float somewhere (or a cycle, which fails again below)
        return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj
