"""The fault-injection suite (docs/robustness.md): ``soak`` tests run only when asked for with
``-m soak``; the default suite runs the short versions."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="long fault-injection run: uv run pytest -m soak tests/faults")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)
