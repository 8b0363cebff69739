"""Contract over tests/vectors/peers/<family>/*.json: real captures whose expected values come
from an independent decoder (another project's code or docs), run through ``batmux decode``'s
code path. Each file: ``protocol``, ``source``, ``how``, ``frames`` (hex, or ``ID#HEX`` for
CAN), optional ``key``, ``expected`` (decode JSON field → value; null = absent), optional
``evidence``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import decode_frames
from batmux.devices.registry import decodable_protocols
from helpers import assert_matches

PEERS = Path(__file__).parent / "vectors" / "peers"
VECTORS = [(f"{p.parent.name}/{p.stem}", p) for p in sorted(PEERS.glob("*/*.json"))]


def test_peer_vectors_are_present() -> None:
    assert VECTORS, f"no peer vectors under {PEERS}"


@pytest.mark.parametrize(("name", "path"), VECTORS, ids=[n for n, _ in VECTORS])
def test_peer_vector_decodes_to_expected(name: str, path: Path) -> None:
    vector: dict[str, Any] = json.loads(path.read_text())
    for key in ("protocol", "source", "how", "frames", "expected"):
        assert vector.get(key), f"{name}: {key!r} missing"
    protocol = vector["protocol"]
    assert protocol in decodable_protocols(), f"{name}: protocol {protocol!r} is not registered"
    result = decode_frames(protocol, vector["frames"], vector.get("key"))
    assert_matches(result, vector["expected"], name)
