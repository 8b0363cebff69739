"""Contract over tests/vectors/peers/<family>/*.json: real captures whose expected values come
from an independent decoder (see each file's ``source`` and ``how``). Every file runs through
``batmux decode``'s code path and every expected value must come out.

File shape: {"protocol", "source", "how", "frames": [hex or "ID#HEX"], optional "key",
"expected": {decode JSON field: value}, optional "evidence"}; current positive = charging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import decode_frames
from batmux.devices.registry import decodable_protocols
from helpers import assert_matches

PEERS = Path(__file__).parent / "vectors" / "peers"
FILES = sorted(PEERS.glob("*/*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_peer_vector_decodes_to_the_peer_values(path: Path) -> None:
    vector = _load(path)
    for field in ("protocol", "source", "how", "frames", "expected"):
        assert vector.get(field), f"{path.name}: {field!r} is required"
    assert vector["protocol"] in decodable_protocols(), f"{path.name}: unknown protocol"
    result = decode_frames(vector["protocol"], vector["frames"], vector.get("key"))
    assert_matches(result, vector["expected"], f"{path.parent.name}/{path.name}")
