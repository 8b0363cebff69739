"""Capture ring buffer and its JSON-lines file format."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from batmux.devices.capture import CaptureRing, capture_header, read_capture, write_capture
from batmux.protocols import jk
from batmux.sim.battery import SimBattery


def test_ring_keeps_the_last_entries(tmp_path: Path) -> None:
    ticks = itertools.count(1000)
    ring = CaptureRing(size=3, clock=lambda: float(next(ticks)))
    for i in range(5):
        ring.record("rx" if i % 2 else "tx", bytes([i, 0xAB]))
    assert len(ring) == 3
    path = write_capture(tmp_path / "cap", "house battery", ring, protocol="jk")
    assert path.name.startswith("house_battery-") and path.suffix == ".jsonl"
    entries = read_capture(path)
    assert [(e.timestamp, e.direction, e.hex) for e in entries] == [
        (1002.0, "tx", "02ab"),
        (1003.0, "rx", "03ab"),
        (1004.0, "tx", "04ab"),
    ]
    assert capture_header(path)["protocol"] == "jk"


def test_captured_rx_chunks_decode_again(tmp_path: Path) -> None:
    battery = SimBattery(cells=8, soc_pct=66.0, current_a=2.0)
    frame = jk.build_cell_info(battery.truth(), jk.JK02_32S)
    ring = CaptureRing()
    ring.record("tx", jk.command(jk.REG_CELL_INFO))
    for start in range(0, len(frame), 20):
        ring.record("rx", frame[start : start + 20])
    entries = read_capture(write_capture(tmp_path, "jk", ring))
    codec = jk.Jk32sCodec()
    frames = [f for e in entries if e.direction == "rx" for f in codec.feed(e.data)]
    sample = codec.decode(frames)
    assert sample.soc_pct == 66 and sample.current_a == pytest.approx(2.0, abs=0.002)


def test_bad_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"timestamp": 1, "direction": "rx", "hex": "zz"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_capture(path)
