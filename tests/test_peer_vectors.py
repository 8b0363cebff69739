"""Peer vectors: real captures decoded by an independent decoder, run through ``batmux decode``.

Every ``tests/vectors/peers/<family>/*.json`` is one capture::

    {
      "protocol": "jbd",                       # a ``batmux decode`` protocol
      "source": "owner/repo:path (what)",      # or an issue URL
      "how": "how the expected values were obtained (which decoder, by hand from its code...)",
      "frames": ["dd0300...77", "351#1402..."],  # hex, or "ID#HEX" for CAN, in arrival order
      "key": "...",                            # optional: --key (Victron advertisements)
      "expected": {"voltage": 15.47, ...},     # decode JSON fields; null = must be absent
      "evidence": "...",                       # optional: why batmux reads a field this way
      "tolerance": 0.01,                       # optional: absolute tolerance for numbers
      "expected_error": "words"                # optional instead of expected: decode must fail
    }

Current is positive while charging, as everywhere in batmux. Numbers compare within
``tolerance`` (default 0.001 absolute or 0.1 % relative), lists element by element (alarm
and warning lists as sets).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import decode_frames
from batmux.devices.registry import decodable_protocols
from batmux.errors import ProtocolError

PEERS = Path(__file__).parent / "vectors" / "peers"
FILES = sorted(PEERS.glob("*/*.json"))
UNORDERED = {"alarms", "warnings"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _equal(got: Any, want: Any, tol: float | None) -> bool:
    if want is None:
        return got is None
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        if tol is not None:
            return abs(got - want) <= tol
        return math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-3)
    if isinstance(want, list) and isinstance(got, (list, tuple)):
        return len(got) == len(want) and all(
            _equal(g, w, tol) for g, w in zip(got, want, strict=True)
        )
    return bool(got == want)


def mismatches(got: dict[str, Any], expected: dict[str, Any], tol: float | None) -> dict:
    """{field: (got, expected)} for every expected field that differs."""
    wrong = {}
    for name, want in expected.items():
        have = got.get(name)
        if name in UNORDERED and isinstance(want, list) and isinstance(have, list):
            have, want = sorted(have), sorted(want)
        if not _equal(have, want, tol):
            wrong[name] = (have, want)
    return wrong


def test_peer_vectors_are_present() -> None:
    families = {p.parent.name for p in FILES}
    assert {
        *("jbd", "sok", "supervolt", "victron_smartshunt", "vedirect", "jk02_24s", "jk02_32s"),
        *("jk04", "daly", "daly_modbus", "ant", "pylontech_can", "byd_can", "tesla_model3"),
    } <= families


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_peer_vector(path: Path) -> None:
    vec = _load(path)
    for field in ("protocol", "source", "how", "frames"):
        assert vec.get(field), f"{path.name}: every peer vector names its {field}"
    assert ("expected" in vec) != ("expected_error" in vec), f"{path.name}: expected or error"
    protocol = vec["protocol"]
    assert protocol in decodable_protocols(), f"{path.name}: {protocol!r} is not registered"
    frames = vec["frames"]
    assert isinstance(frames, list) and all(isinstance(f, str) for f in frames)
    if "expected_error" in vec:
        with pytest.raises(ProtocolError, match=vec["expected_error"]):
            decode_frames(protocol, frames, vec.get("key"))
        return
    got = decode_frames(protocol, frames, vec.get("key"))
    wrong = mismatches(got, vec["expected"], vec.get("tolerance"))
    assert not wrong, f"{path.name}: (batmux, peer) {wrong}"
