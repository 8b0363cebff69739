"""Hypothesis profiles for the codec tests.

Default: 200 examples per fuzz test. ``HYPOTHESIS_PROFILE=fuzz``: 10 000.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ble-default", max_examples=200, deadline=None)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("fuzz" if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else "ble-default")
