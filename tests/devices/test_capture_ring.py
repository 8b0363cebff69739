"""Capture ring buffer and its JSON-lines file format."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from batmux.cli import build_gateway
from batmux.config import parse_config
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


def _gateway(tmp_path: Path, extra: dict[str, Any], capture_dir: str | None = None) -> Any:
    config = parse_config(
        {
            "state_dir": str(tmp_path / "state"),
            "batteries": [{"name": "house", "type": "jbd", "address": "A4:C1:37:00:00:01"}],
            **extra,
        }
    )
    return build_gateway(config, capture_dir)


def _ring_and_hook(gateway: Any) -> tuple[CaptureRing | None, Any]:
    source = gateway.batteries["house"].source
    return source.capture, source.driver.on_raw


def test_rings_are_kept_only_where_they_can_be_read(tmp_path: Path) -> None:
    """The frames are read by ``run --capture DIR`` and the dashboard's download; with
    neither, no ring is kept and the driver records nothing."""
    assert _ring_and_hook(_gateway(tmp_path, {})) == (None, None)
    for gateway in (
        _gateway(tmp_path, {}, capture_dir=str(tmp_path / "cap")),
        _gateway(tmp_path, {"web": {"listen": "127.0.0.1:8080"}}),
    ):
        ring, hook = _ring_and_hook(gateway)
        assert ring is not None and hook == ring.record
        hook("rx", b"\xdd\x03\x00")
        assert [e.hex for e in ring.entries()] == ["dd0300"]


def test_a_detached_ring_records_nothing() -> None:
    class Driver:
        on_raw: Any = None

    driver, ring = Driver(), CaptureRing()
    ring.attach(driver)
    driver.on_raw("tx", b"\x01")
    ring.detach()
    assert driver.on_raw is None and len(ring) == 0
