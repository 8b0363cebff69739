"""The embedded default for ``batmux demo``: simulated batteries through the whole pipeline."""

from __future__ import annotations

from typing import Any

DEMO_BATTERIES: list[dict[str, Any]] = [
    {
        "name": "jk_garage",
        "type": "jk",
        "sim": {
            "cells": 16,
            "capacity_ah": 280,
            "soc": 64,
            "firmware": "11.48",
            "load": {"kind": "sine", "amplitude": 40, "period": 300},
        },
    },
    {
        "name": "jk_shed",
        "type": "jk02_24s",
        "sim": {
            "cells": 16,
            "capacity_ah": 280,
            "soc": 58,
            "firmware": "10.08",
            "seed": 2,
            "load": {"kind": "sine", "amplitude": 35, "period": 300},
        },
    },
    {
        "name": "jk_rv",
        "type": "jk02_32s",
        "sim": {
            "cells": 4,
            "capacity_ah": 200,
            "soc": 80,
            "seed": 3,
            "corrupt_rate": 0.05,
            "load": {"kind": "sine", "amplitude": 15, "period": 120, "offset": -5},
        },
    },
]


def demo_config(mqtt_url: str | None, state_dir: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "sample_period": 1.0,
        "publish_period": 2.0,
        "expire_after": 30.0,
        "state_dir": state_dir,
        "batteries": [dict(b, address="sim") for b in DEMO_BATTERIES],
    }
    if mqtt_url:
        config["mqtt"] = {"url": mqtt_url}
    return config
