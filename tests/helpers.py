"""Small assertion helpers shared by tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

import math
from typing import Any


def assert_matches(actual: dict[str, Any], expected: dict[str, Any], where: str = "") -> None:
    """Every expected key is present in ``actual`` and equal (floats within 1e-3 relative)."""
    for key, want in expected.items():
        if want is None:  # "unknown": to_json() leaves unknown values out
            assert actual.get(key) is None, f"{where}: {key}: got {actual[key]!r}, want None"
            continue
        assert key in actual, f"{where}: missing {key!r} (have {sorted(actual)})"
        assert values_equal(actual[key], want), (
            f"{where}: {key}: got {actual[key]!r}, want {want!r}"
        )


def check_sample(sample: Any, expected: dict[str, Any], where: str = "") -> None:
    """``assert_matches`` on a decoded sample's public JSON (fields plus extras)."""
    assert_matches(sample.to_json(), expected, where)


def values_equal(got: Any, want: Any) -> bool:
    if want is None:
        return got is None
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-3)
    if isinstance(want, list) and isinstance(got, (list, tuple)):
        return len(got) == len(want) and all(
            values_equal(g, w) for g, w in zip(got, want, strict=False)
        )
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) >= set(want) and all(values_equal(got[k], w) for k, w in want.items())
    return got == want
