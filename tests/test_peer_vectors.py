"""Contract over tests/vectors/peers/<family>/*.json: real captures whose expected values come
from another project's decoder (or its published numbers), run through ``batmux decode``'s code
path. Each file: {"protocol", "source", "how", "frames": [hex or "ID#HEX"], optional "key",
"expected": {decode JSON field: value, null = absent}, optional "evidence"}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import decode_frames
from helpers import assert_matches

PEERS = Path(__file__).parent / "vectors" / "peers"
FILES = sorted(PEERS.glob("*/*.json"))


def test_peer_vectors_are_present() -> None:
    assert FILES, f"no peer vectors under {PEERS}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_peer_vector_decodes_to_the_peer_values(path: Path) -> None:
    vector: dict[str, Any] = json.loads(path.read_text())
    for key in ("protocol", "source", "how", "frames", "expected"):
        assert vector.get(key), f"{path.name}: {key!r} missing"
    result = decode_frames(vector["protocol"], vector["frames"], vector.get("key"))
    assert_matches(result, vector["expected"], f"{path.parent.name}/{path.name}")
