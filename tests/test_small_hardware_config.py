"""The small-hardware example in docs/performance.md is a valid config with what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from batmux.config import parse_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def test_small_hardware_example_parses() -> None:
    section = DOC.read_text().split("## Small hardware", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    config = parse_config(yaml.safe_load(block.group(1)), str(DOC))
    assert (config.sample_period, config.publish_period) == (5.0, 10.0)
    assert config.concurrent_sampling
    assert not config.venus and not config.inverters  # nothing loaded that is not used
    assert config.mqtt is not None and config.mqtt.discovery
