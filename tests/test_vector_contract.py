"""Contract over every captured BLE vector in shared/vectors/ble: ``batmux decode`` takes the
frames as stored (whole frames or raw notifications in arrival order) and every expected value
comes out. A family whose vectors exist must be registered."""

from __future__ import annotations

from typing import Any

import pytest

from batmux.cli import decode_frames
from batmux.devices.registry import decodable_protocols
from conftest import load_vectors
from helpers import assert_matches
from superseded import current_expected

BLE_VECTORS = load_vectors("ble")


def test_vectors_are_present() -> None:
    assert len(BLE_VECTORS) >= 11, "shared/vectors/ble not found beside the repo"


@pytest.mark.parametrize(("name", "vector"), BLE_VECTORS, ids=[n for n, _ in BLE_VECTORS])
def test_vector_decodes_to_expected(name: str, vector: dict[str, Any]) -> None:
    protocol = vector["protocol"]
    if protocol not in decodable_protocols():
        pytest.fail(f"{name}: protocol {protocol!r} is not registered")
    assert vector.get("source"), f"{name}: every fixture names its source"
    key = vector.get("advertisement_key")
    result = decode_frames(protocol, vector["frames"], key)
    assert_matches(result, current_expected(name, vector["expected"]), name)
