"""The advertising-data codec on real captured advertisements.

Captures and expected fields from Bluetooth-Devices/bluetooth-data-tools tests/test_gap.py
(the parser behind Home Assistant's Bluetooth stack and its ESPHome proxy path): a JK BMS
("M2_B1A8S10P", test_parse_adv_data), a Prodigio lock with a 128-bit service UUID split over
advertisement and scan response, and two corrupt ones whose valid structures must survive.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from batmux.protocols import ble_ad

JK_CAPTURE = bytes.fromhex(
    "020106" "0502E0FFE7FE" "0BFF650B88A0C8478CEAD1C1" "0C094D325F4231413853313050"
)  # fmt: skip


def test_jk_bms_advertisement() -> None:
    adv = ble_ad.parse(JK_CAPTURE)
    assert adv.name == "M2_B1A8S10P"
    assert adv.service_uuids == (
        "0000ffe0-0000-1000-8000-00805f9b34fb",
        "0000fee7-0000-1000-8000-00805f9b34fb",
    )
    assert adv.manufacturer_data == {2917: bytes.fromhex("88a0c8478cead1c1")}


def test_advertisement_and_scan_response_concatenated() -> None:
    data = base64.b64decode("AgoEFglQcm9kaWdpb19EODM1NjdBNEY1QTU=") + base64.b64decode(
        "AgEGEQYbxdWlAgCqneMRKvIQGaoGCf8CJUQJgAcAAg=="
    )
    adv = ble_ad.parse(data)
    assert adv.name == "Prodigio_D83567A4F5A5"
    assert adv.service_uuids == ("06aa1910-f22a-11e3-9daa-0002a5d5c51b",)
    assert adv.manufacturer_data == {9474: b"D\t\x80\x07\x00\x02"}


def test_corrupt_tails_keep_the_valid_structures() -> None:
    zero_service_data = (
        b"\x03\x03\x9f\xfe\x17\x16\x9f\xfe" + bytes(20) + b"\x01\x06\xf8"
    )  # a 248-byte structure announced at the end
    assert ble_ad.parse(zero_service_data).service_uuids == (
        "0000fe9f-0000-1000-8000-00805f9b34fb",
    )
    manufacturer_then_garbage = (
        b"\x1a\xff\xc3\x03_\xef5B\xb0I\x0f\xbb\x00&\x01\x00m*"
        b"\xb2c\xd8\xb0\x02\n\x00\x00\xf2\x02\x01\x06 "
    )
    assert ble_ad.parse(manufacturer_then_garbage).manufacturer_data == {
        963: b"_\xef5B\xb0I\x0f\xbb\x00&\x01\x00m*\xb2c\xd8\xb0\x02\n\x00\x00\xf2"
    }


def test_build_parses_back() -> None:
    data = ble_ad.build(
        "JK_B2A8S20P",
        ("0000ffe0-0000-1000-8000-00805f9b34fb", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
        {0x02E1: b"\x10\x02"},
    )
    adv = ble_ad.parse(data)
    assert adv.name == "JK_B2A8S20P"
    assert adv.service_uuids == (
        "0000ffe0-0000-1000-8000-00805f9b34fb",
        "6e400001-b5a3-f393-e0a9-e50e24dcca9e",
    )
    assert adv.manufacturer_data == {0x02E1: b"\x10\x02"}


@given(st.binary(max_size=80))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    ble_ad.parse(data)  # a proxy relays whatever the air carries
