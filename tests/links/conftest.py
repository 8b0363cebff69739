"""Puts tests/ on sys.path (until the root conftest does) and provides the fake BlueZ fixtures."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from bluez_fixtures import bluez_bus, fake_bluez  # noqa: E402, F401
