"""Nissan LEAF reader: the shared captured frames, CRC-8, wake-up frames, ISO-TP replies of the
LBC, generation detection, the poller's flow control and LeafSpy back-off, and a fuzz."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batmux.cli import decode_frames
from batmux.errors import ProtocolError
from batmux.protocols.isotp import flow_control, segment
from batmux.protocols.nissan_leaf import NissanLeafCodec
from batmux.protocols.nissan_leaf_frames import (
    ENERGY,
    LIMITS,
    REPLY,
    REQUEST,
    STATUS,
    crc8,
    encode_frame,
    with_crc,
)
from batmux.protocols.nissan_leaf_poll import LbcPoller, group_request
from protocols.can_vectors import load

VECTOR = load("nissan_leaf_lbc_samples")
BATTERY = [(int(f["id"], 16), f["data"]) for f in VECTOR["frames"] if f["dir"] == "battery->host"]
HOST = [(int(f["id"], 16), f["data"]) for f in VECTOR["frames"] if f["dir"] == "host->battery"]


def decode(*frames: str) -> dict[str, Any]:
    return decode_frames("nissan_leaf", list(frames))


def test_the_captured_1db_decodes_to_its_expected_values() -> None:
    want = VECTOR["expected"]["0x1DB"]
    got = decode("1DB#" + dict(BATTERY)[0x1DB])
    assert got["voltage"] == want["voltage_V"]
    assert got["current"] == want["current_A"]  # + = charging (Battery-Emulator, OVMS negates)
    assert got["usable_soc"] == want["usable_soc_pct"]
    assert got["soc"] == want["usable_soc_pct"]  # no 0x55B: the usable SoC stands in
    assert got["failsafe_status"] == want["failsafe_status"]
    assert got["relay_cut_request"] == want["relay_cut_request"]
    assert got["main_relay_on"] is bool(want["main_relay_on"])
    assert got["full_charge"] is bool(want["full_charge_flag"])
    assert got["interlock"] is bool(want["interlock"])
    assert got["prun"] == want["prun"]


def test_the_captured_1dc_gives_power_and_current_limits() -> None:
    want = VECTOR["expected"]["0x1DC"]
    got = decode("1DB#" + dict(BATTERY)[0x1DB], "1DC#" + dict(BATTERY)[0x1DC])
    assert got["discharge_power_limit_kw"] == want["discharge_power_limit_kW"]
    assert got["charge_power_limit_kw"] == want["charge_power_limit_kW"]
    assert "max_power_for_charger_kw" not in got  # raw 0x3FF: not available
    assert got["charge_current_limit"] == pytest.approx(50_000 / 381.5, abs=0.05)
    assert got["discharge_current_limit"] == pytest.approx(110_000 / 381.5, abs=0.05)


def test_the_captured_5bc_gives_gids_energy_and_soh() -> None:
    want = VECTOR["expected"]["0x5BC"]
    got = decode("5BC#" + dict(BATTERY)[ENERGY])
    assert got["gids"] == want["gids"]
    assert got["remaining_wh"] == want["remaining_Wh_at_77Wh_per_gid"]
    assert got["soh"] == want["soh_pct"]
    assert "max_gids" not in got  # max-GIDs mux flag 0


def test_the_captured_host_frames_carry_good_crcs_and_are_no_battery_data() -> None:
    for can_id, data in HOST:
        raw = bytes.fromhex(data)
        if can_id == 0x1D4:
            assert crc8(raw[:7]) == raw[7]
    codec = NissanLeafCodec()
    for can_id, data in HOST:
        assert codec.feed((can_id, bytes.fromhex(data))) == []
    assert codec.requests_seen == 2 and codec.corrupt_frames == 0


def test_the_captured_first_frames_wait_for_the_rest_of_their_reply() -> None:
    codec = NissanLeafCodec()
    for can_id, data in BATTERY:
        codec.feed((can_id, bytes.fromhex(data)))
    assert codec.corrupt_frames == 0  # the 0x90 first frame simply restarts the reply
    sample = codec.decode(
        [f for c, d in BATTERY for f in NissanLeafCodec().feed((c, bytes.fromhex(d)))]
    )
    assert sample.cell_voltages_v == ()


def test_a_bad_crc_is_counted_and_the_frame_dropped() -> None:
    good = bytes.fromhex(dict(BATTERY)[STATUS])
    codec = NissanLeafCodec()
    assert codec.feed((STATUS, good[:7] + bytes([good[7] ^ 1]))) == []
    assert codec.crc_errors == 1 and codec.corrupt_frames == 1
    assert "CRC" in str(codec.last_error)
    assert codec.feed((STATUS, good)) != []


def test_a_wakeup_frame_is_no_data() -> None:
    # current raw 0x3FF (+511.5 A) and voltage 0x3FF (n/a) with a valid CRC, as at wake-up
    wake = with_crc(bytes([0x7F, 0xE0, 0xFF, 0xC0, 0, 0, 0]))
    codec = NissanLeafCodec()
    assert codec.feed((STATUS, wake)) == []
    assert codec.wakeup_frames == 1 and codec.corrupt_frames == 0
    gids_na = bytes.fromhex("FFC0B48CC8025FFF")
    assert codec.feed((ENERGY, gids_na)) == [] and codec.wakeup_frames == 2
    with pytest.raises(ProtocolError):
        codec.decode([])


def test_negative_current_is_discharging() -> None:
    frame = encode_frame(STATUS, {"current": -123.5, "voltage": 360.0})
    got = decode(f"1DB#{frame.hex()}")
    assert got["current"] == -123.5 and got["voltage"] == 360.0


def _reply(group_payload: bytes) -> list[str]:
    return [f"7BB#{f.hex()}" for f in segment(group_payload)]


def test_generation_from_the_group_1_reply_length() -> None:
    for length, generation in ((0x29, "ZE0"), (0x2B, "AZE0"), (0x35, "ZE1")):
        payload = b"\x61\x01" + bytes(length - 2)
        assert decode(*_reply(payload))["generation"] == generation
    # the 24 kWh layout from a pack that also sends the AZE0-only 0x59E
    assert decode("59E#0000", *_reply(b"\x61\x01" + bytes(0x27)))["generation"] == "AZE0"


def test_generation_from_the_max_gids_mux_and_the_batterys_own_frames() -> None:
    max_gids = encode_frame(ENERGY, {"gids": 502, "max_gids_flag": 1, "soh": 95})
    got = decode(f"5BC#{max_gids.hex()}")
    assert (got["generation"], got["pack_kwh"], got["max_gids"]) == ("ZE1", 40, 502)
    assert decode("1ED#000000")["generation"] == "ZE1"
    assert decode("59E#0000000000000000")["generation"] == "AZE0"
    # a charger's 0x380 on the bus says nothing about the battery
    codec = NissanLeafCodec()
    assert codec.feed("380#0000000000000000") == [] and codec.unknown_frames == 1


def test_a_truncated_cell_reply_gives_no_cells() -> None:
    """halkinmaksim/Qt_BT_ELM327:README.md: a real ELM327 log whose group 0x02 reply stops
    after 28 of its 29 frames (announced 0xC6 = 198 bytes)."""
    lines = """10 C6 61 02 0F C6 0F CD|21 0F CC 0F C4 0F D5 0F|22 D1 0F CB 0F C4 0F D1
23 0F C6 0F C8 0F C4 0F|24 D2 0F D6 0F D2 0F D3|25 0F D2 0F C8 0F C8 0F|26 C9 0F D2 0F C8 0F CD
27 0F C4 0F D1 0F CD 0F|28 CC 0F C8 0F CD 0F D2|29 0F CD 0F D2 0F CF 0F|2A CF 0F D4 0F D2 0F C6
2B 0F CB 0F CB 0F C8 0F|2C C4 0F C4 0F C8 0F C4|2D 0F D1 0F CF 0F D5 0F|2E D1 0F CF 0F D1 0F D5
2F 0F C8 0F D4 0F D0 0F|20 D4 0F D1 0F D7 0F D2|21 0F C8 0F CD 0F C3 0F|22 D2 0F C9 0F CE 0F C4
23 0F CD 0F C4 0F C8 0F|24 CD 0F CD 0F CD 0F CD|25 0F CC 0F CC 0F CB 0F|26 C8 0F C4 0F CD 0F C3
27 0F C9 0F CF 0F CF 0F|28 D5 0F CD 0F D5 0F D1|29 0F DA 0F C8 0F CD 0F|2A CD 0F D1 0F D6 0F C8
2B 0F CD 0F D1 0F C1 97"""
    frames = ["7BB#" + f.replace(" ", "") for f in lines.replace("\n", "|").split("|")]
    codec = NissanLeafCodec()
    out = [p for f in frames for p in codec.feed(f)]
    assert out == [] and codec.corrupt_frames == 0
    assert "cell_voltages" not in decode(*frames, "1DB#" + dict(BATTERY)[STATUS])


def test_a_complete_but_short_cell_reply_is_an_error_not_fewer_cells() -> None:
    codec = NissanLeafCodec()
    short = b"\x61\x02" + bytes.fromhex("0F42") * 60
    assert [p for f in segment(short) for p in codec.feed((REPLY, f))] == []
    assert codec.corrupt_frames == 1 and "group 0x02" in str(codec.last_error)


def test_an_out_of_sequence_reply_frame_is_counted() -> None:
    frames = segment(b"\x61\x04" + bytes(14))
    codec = NissanLeafCodec()
    codec.feed((REPLY, frames[0]))
    codec.feed((REPLY, frames[2]))
    assert codec.corrupt_frames == 1 and "expected 1" in str(codec.last_error)


def test_polled_cells_sum_to_the_pack_voltage() -> None:
    payload = b"\x61\x02" + bytes.fromhex("0F3C") * 96 + bytes(4)  # 96 × 3.900 V
    got = decode("1DB#" + encode_frame(STATUS, {"voltage": 374.5}).hex(), *_reply(payload))
    assert len(got["cell_voltages"]) == 96
    assert got["cell_sum"] == pytest.approx(got["voltage"], abs=0.5)


# -- poller --------------------------------------------------------------------------------------


def test_the_poller_requests_each_group_and_sends_flow_control_per_block() -> None:
    poller = LbcPoller(interval_s=10.0, block_size=1)
    assert poller.poll(0.0) == [group_request(0x01)]
    assert poller.poll(0.1) == []  # waiting for the reply
    frames = segment(b"\x61\x01" + bytes(0x29))  # first frame + 6 consecutive frames
    sent = [poller.on_frame(REPLY, f, 0.1) for f in frames]
    assert sent[0] == [flow_control(1)]
    assert all(s == [flow_control(1)] for s in sent[1:-1])
    assert sent[-1] == []  # the last frame completes the reply
    assert poller.poll(0.2) == [group_request(0x02)]


def test_the_poller_gives_up_on_a_silent_lbc_and_moves_on() -> None:
    poller = LbcPoller(interval_s=10.0, reply_timeout_s=1.0)
    poller.poll(0.0)
    assert poller.poll(0.5) == []
    assert poller.poll(1.1) == [] and poller.timeouts == 1
    assert poller.poll(1.2) == [group_request(0x02)]


def test_the_poller_backs_off_while_leafspy_polls() -> None:
    poller = LbcPoller(interval_s=1.0, backoff_s=100.0)
    poller.poll(0.0)
    assert poller.on_frame(REQUEST, group_request(0x02), 0.05) == []
    assert poller.backing_off(50.0) and poller.foreign_requests == 1
    # LeafSpy's reply: we neither request nor answer it with flow control
    first = segment(b"\x61\x02" + bytes(196))[0]
    assert poller.on_frame(REPLY, first, 0.06) == []
    assert all(poller.poll(t) == [] for t in (1.0, 50.0, 99.0))
    assert poller.poll(101.0) == [group_request(0x01)]


def test_zero_interval_means_listen_only() -> None:
    assert LbcPoller(interval_s=0).poll(0.0) == []


# -- fuzz ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([STATUS, LIMITS, 0x55B, ENERGY, 0x5C0, REPLY,
                                           REQUEST, 0x59E, 0x1ED, 0x123]),
                          st.binary(max_size=9)), max_size=40))  # fmt: skip
def test_fuzz_feed_decode(frames: list[tuple[int, bytes]]) -> None:
    codec = NissanLeafCodec()
    out = [p for f in frames for p in codec.feed(f)]
    with contextlib.suppress(ProtocolError):
        codec.decode(out)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=2, max_size=200), st.integers(0, 0xFF))
def test_fuzz_group_replies(payload: bytes, group: int) -> None:
    codec = NissanLeafCodec()
    message = b"\x61" + bytes([group]) + payload
    out = [p for f in segment(message) for p in codec.feed((REPLY, f))]
    with contextlib.suppress(ProtocolError):
        codec.decode(out)


def test_a_cell_reply_cut_by_an_elm327_and_its_late_tail_give_no_cells() -> None:
    """meatpiHQ/wican-fw#288 (a ZE0 through an ELM327): the '21 02' reply stops after frame
    0x23 of the second sequence round; the next request ('21 04') is answered by the old
    reply's frames 0x2A-0x2C. Neither part may become cells."""
    log = (
        "7BB10C661020F530F4A7BB210F4B0F4B0F4F0F7BB224F0F4A0F500F507BB230F460F4F0F500F"
        "7BB244B0F470F460F547BB250F460F4B0F4F0F7BB26470F4B0F4F0F4A7BB270F4B0F4A0F460F"
        "7BB284B0F4B0F4F0F4B7BB290F4B0F470F4B0F7BB2A4B0F4B0F550F4A7BB2B0F4A0F4B0F500F"
        "7BB2C4D0F4B0F4B0F4B7BB2D0F4F0F4F0F4B0F7BB2E500F580F4B0F4F7BB2F0F4B0F500F500F"
        "7BB204A0F510F500F4F7BB210F4F0F510F4B0F7BB22500F500F4D0F507BB230F4B0F4B0F510F"
        "7BB2A4B0F530F540F4B7BB2B0F4F0F4B0F51927BB2CE292E0FFFFFFFF"
    )
    frames = ["7BB#" + part for part in log.split("7BB")[1:]]
    assert len(frames) == 23 and all(len(f) == 20 for f in frames)
    codec = NissanLeafCodec()
    assert [p for f in frames for p in codec.feed(f)] == []
    assert codec.corrupt_frames == 3  # 0x2A out of sequence, then 0x2B/0x2C with no first frame


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([REQUEST, REPLY, STATUS]), st.binary(max_size=8), st.floats(0, 0.5)
        ),
        max_size=60,
    )
)
def test_fuzz_poller(events: list[tuple[int, bytes, float]]) -> None:
    poller, now = LbcPoller(interval_s=0.2, backoff_s=1.0), 0.0
    for can_id, data, dt in events:
        now += dt
        sent = poller.poll(now) + poller.on_frame(can_id, data, now)
        assert len(sent) <= 2 and all(len(f) == 8 for f in sent)


def test_broadcast_temperatures_by_generation_when_nothing_is_polled() -> None:
    hist_max = encode_frame(0x5C0, {"mux": 1, "temperature": 24.0})
    hist_min = encode_frame(0x5C0, {"mux": 3, "temperature": 18.5})
    got = decode("59E#00", f"5C0#{hist_max.hex()}", f"5C0#{hist_min.hex()}")
    assert got["temperatures"] == [18.5, 24.0]  # AZE0: min, max
    ze0 = _reply(b"\x61\x01" + bytes(0x27))
    energy = encode_frame(ENERGY, {"gids": 200, "soh": 90, "ze0_temperature": 21})
    got = decode(*ze0, f"5BC#{energy.hex()}")
    assert (got["generation"], got["temperatures"], got["pack_kwh"]) == ("ZE0", [21.0], 24)
    # unknown generation: neither is trusted
    assert "temperatures" not in decode(f"5C0#{hist_max.hex()}", f"5BC#{energy.hex()}")


def test_a_cell_reply_with_an_impossible_cell_is_dropped_whole() -> None:
    codec = NissanLeafCodec()
    cells = b"\x61\x02" + bytes.fromhex("0F42") * 95 + b"\xff\xff" + bytes(4)
    assert [p for f in segment(cells) for p in codec.feed((REPLY, f))] == []
    assert codec.corrupt_frames == 1 and "[96]" in str(codec.last_error)
