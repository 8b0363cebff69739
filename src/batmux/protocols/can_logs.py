"""CAN log files ⇄ frames: candump, SavvyCAN CSV, GVRET CSV and CRTD, told apart by their start.

Layouts as SavvyCAN writes and reads them (collin80/SavvyCAN, framefileio.cpp:
saveNativeCSVFile / loadNativeCSVFile / saveCRTDFile / loadCRTDFile)::

    Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8      SavvyCAN CSV ("native")
    39747828,000005EB,false,Rx,0,8,E8,45,85,4B,4A,28,36,69,         time in µs

    Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8          GVRET CSV (older, no Dir)
    194411100,00000109,false,1,8,00,01,00,FF,FF,FF,0F,0A            time in µs

    1320745424.002 R11 402 FA 01 C3 A0 96 00 07 01                  CRTD (OVMS), time in s;
    123.431 2R11 27E 00 00 00 00 00 00 00 00                        bus digit, R/T, 11/29 bits;
    1320745424.106 CEV Open charge port door                        C.. lines are comments

and ``candump -L`` lines (``protocols.candump``). A CSV ID above 0x7FF is extended even when the
file says ``false`` (SavvyCAN fixes such files the same way). Transmitted (``Tx``/``T``) frames
are kept: a log replays what was on the bus, both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from batmux.errors import CorruptFrame
from batmux.protocols.candump import CandumpRecord, parse_line

CANDUMP, SAVVYCAN_CSV, GVRET_CSV, CRTD = "candump", "savvycan_csv", "gvret_csv", "crtd"
_CRTD_KINDS = frozenset({"R11", "R29", "T11", "T29"})


def detect(first_line: str) -> str:
    """The format of a log from its first non-blank line."""
    head = first_line.strip().upper()
    if head.startswith("TIME STAMP") and "EXTENDED" in head and "D1" in head:
        return SAVVYCAN_CSV if ",DIR," in head.replace(" ", "") else GVRET_CSV
    parts = head.split()
    kind = parts[1].lstrip("123456789")[:1] if len(parts) >= 2 else ""
    if kind and kind in "RTC" and _is_number(parts[0]):  # "" is "in" every string
        return CRTD
    return CANDUMP


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_csv_line(line: str, with_dir: bool) -> CandumpRecord:
    """One SavvyCAN (``with_dir``) or GVRET CSV data line."""
    cells = [c.strip() for c in line.strip().split(",")]
    first_data = 6 if with_dir else 5
    if len(cells) < first_data:
        raise CorruptFrame(f"not a CSV frame line: {line.strip()[:60]!r}")
    try:
        stamp = int(cells[0]) / 1e6 if len(cells[0]) > 3 else None  # µs; SavvyCAN's own rule
        can_id = int(cells[1], 16)
        length = int(cells[first_data - 1])
        if not 0 <= length <= 8 or first_data + length > len(cells):
            raise CorruptFrame(f"bad length {length} in {line.strip()[:60]!r}")
        data = bytes(int(c, 16) for c in cells[first_data : first_data + length])
    except ValueError as exc:
        raise CorruptFrame(f"bad CSV frame {line.strip()[:60]!r}: {exc}") from None
    extended = "TRUE" in cells[2].upper() or can_id > 0x7FF
    if can_id > 0x1FFFFFFF:
        raise CorruptFrame(f"CAN id {cells[1]} out of range")
    channel = cells[4] if with_dir else cells[3]
    return CandumpRecord(can_id, data, stamp, channel, extended)


def parse_crtd_line(line: str) -> CandumpRecord | None:
    """One CRTD line; None for a comment/event line (``CXX``, ``CEV``, ...)."""
    parts = line.split()
    if len(parts) < 2:
        raise CorruptFrame(f"not a CRTD line: {line.strip()[:60]!r}")
    kind = parts[1].upper()
    bus = "1"
    if kind[:1].isdigit():
        bus, kind = kind[0], kind[1:]
    if kind.startswith("C"):
        return None
    if kind not in _CRTD_KINDS or len(parts) < 3 or len(parts) > 11:
        raise CorruptFrame(f"not a CRTD frame: {line.strip()[:60]!r}")
    try:
        stamp = float(parts[0]) if "." in parts[0] else int(parts[0]) / 1e6  # no dot: µs
        can_id = int(parts[2], 16)
        data = bytes(int(b, 16) for b in parts[3:])
    except ValueError as exc:
        raise CorruptFrame(f"bad CRTD frame {line.strip()[:60]!r}: {exc}") from None
    extended = kind.endswith("29")
    if can_id > (0x1FFFFFFF if extended else 0x7FF):
        raise CorruptFrame(f"CAN id {parts[2]} out of range for {kind}")
    return CandumpRecord(can_id, data, stamp, bus, extended)


def records(
    lines: Iterable[str], on_skip: Callable[[str], None] | None = None
) -> Iterator[CandumpRecord]:
    """The frames of a log in any of the formats above (detected from its first line).
    Malformed lines are passed over; ``on_skip`` gets the reason of each."""
    fmt: str | None = None
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if fmt is None:
            fmt = detect(text)
            if fmt in (SAVVYCAN_CSV, GVRET_CSV):
                continue  # the header line
        try:
            if fmt == CANDUMP:
                record: CandumpRecord | None = parse_line(text)
            elif fmt == CRTD:
                record = parse_crtd_line(text)
            else:
                record = parse_csv_line(text, with_dir=fmt == SAVVYCAN_CSV)
        except CorruptFrame as exc:
            if on_skip is not None:
                on_skip(str(exc))
            continue
        if record is not None:
            yield record
