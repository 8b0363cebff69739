"""``batmux replay`` log formats: SavvyCAN CSV, GVRET CSV and CRTD beside candump, detected
from the first line. The lines are real: SavvyCAN's own examples (collin80/SavvyCAN
framefileio.cpp), a GVRET CSV log from projectgus/hyundai-kona-ev-can-logs, CRTD lines from
OVMS's replay fixture (tests/vectors/logs/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batmux.links.can_bus import CanLink
from batmux.links.can_replay import replay
from batmux.protocols.can_logs import (
    CANDUMP,
    CRTD,
    GVRET_CSV,
    SAVVYCAN_CSV,
    detect,
    parse_crtd_line,
    records,
)
from sinks.can_bus_helpers import channel

SAVVYCAN = """\
Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8
39747828,000005EB,false,Rx,0,8,E8,45,85,4B,4A,28,36,69,
18847032,00000352,false,Rx,0,8,F1,FA,B6,DB,6E,32,89,00,
18847040,18FF50E5,true,Tx,1,2,01,02,00,00,00,00,00,00,
"""
GVRET = """\
Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8
194411100,00000109,false,1,8,00,01,00,FF,FF,FF,0F,0A
194411300,00000200,false,1,8,00,00,00,04,00,10,D0,00
194412100,00000333,false,1,8,00,00,00,00,00,00,00,00
"""
CRTD_LOG = """\
1320745424.000 CXX OVMS Tesla Roadster cando2crtd converted log
1320745424.002 R11 402 FA 01 C3 A0 96 00 07 01
1320745424.106 CEV Open charge port door
1320745424.107 R11 100 07 64
1705316400.200000 2R11 187 00 00 12 00 00 00 00 00
1705316400.250000 3R29 18FF50E5 01 02
"""


def test_detect() -> None:
    assert detect(SAVVYCAN.splitlines()[0]) == SAVVYCAN_CSV
    assert detect(GVRET.splitlines()[0]) == GVRET_CSV
    assert detect(CRTD_LOG.splitlines()[0]) == CRTD
    assert detect("(1436509052.249713) can0 351#1402C012C012C201") == CANDUMP
    assert detect("351#1402C012") == CANDUMP
    assert detect("1.000 123") == CANDUMP  # a number, then no R/T/C kind: not CRTD


def test_savvycan_csv() -> None:
    got = list(records(SAVVYCAN.splitlines()))
    assert [(r.arbitration_id, r.data.hex(), r.extended) for r in got] == [
        (0x5EB, "e845854b4a283669", False),
        (0x352, "f1fab6db6e328900", False),
        (0x18FF50E5, "0102", True),
    ]
    assert got[0].timestamp == pytest.approx(39.747828)  # µs
    assert got[2].channel == "1"


def test_gvret_csv() -> None:
    got = list(records(GVRET.splitlines()))
    assert [r.arbitration_id for r in got] == [0x109, 0x200, 0x333]
    assert got[0].data == bytes.fromhex("000100FFFFFF0F0A")
    assert got[1].timestamp - got[0].timestamp == pytest.approx(0.0002)
    assert got[0].channel == "1" and not got[0].extended


def test_crtd() -> None:
    got = list(records(CRTD_LOG.splitlines()))
    assert [(r.arbitration_id, r.data.hex(), r.extended, r.channel) for r in got] == [
        (0x402, "fa01c3a096000701", False, "1"),
        (0x100, "0764", False, "1"),
        (0x187, "0000120000000000", False, "2"),
        (0x18FF50E5, "0102", True, "3"),
    ]
    assert got[0].timestamp == pytest.approx(1320745424.002)
    assert parse_crtd_line("1320745424.106 CEV Open charge port door") is None


@pytest.mark.parametrize(
    "bad",
    [
        "39747828,000005EB,false,Rx,0,9,E8,45,85,4B,4A,28,36,69,",  # LEN 9
        "39747828,XYZ,false,Rx,0,8,E8,45,85,4B,4A,28,36,69,",
        "39747828,000005EB,false,Rx,0,8,E8,45",  # fewer bytes than LEN
        "39747828,3FFFFFFF,true,Rx,0,1,00",  # beyond 29 bits
    ],
)
def test_bad_csv_lines_are_skipped(bad: str) -> None:
    skipped: list[str] = []
    lines = [SAVVYCAN.splitlines()[0], bad, SAVVYCAN.splitlines()[1]]
    got = list(records(lines, skipped.append))
    assert len(got) == 1 and len(skipped) == 1


def test_bad_crtd_lines_are_skipped() -> None:
    skipped: list[str] = []
    lines = ["1.000 R11 402 FA", "1.001 R11 800 00", "1.002 X11 100 00", "1.003 R11 1G0 00"]
    assert len(list(records(lines, skipped.append))) == 1
    assert len(skipped) == 3


@pytest.mark.parametrize(("text", "count"), [(SAVVYCAN, 3), (GVRET, 3), (CRTD_LOG, 4)])
async def test_replay_each_format(tmp_path: Path, text: str, count: int) -> None:
    log = tmp_path / "capture.log"
    log.write_text(text + "garbage line\n")
    cfg = channel()
    async with CanLink(cfg) as listener, CanLink(cfg) as bus:
        result = await replay(log, bus, speed=0)
        got = [await listener.recv(1.0) for _ in range(count)]
    assert result.frames == count and result.skipped_lines == 1
    assert got == [r.frame for r in records(text.splitlines())]
