"""tesla_model3: the codec against real frames, the 0x221 vector, the DBC layouts and fuzz.

Real frames: 0x132 from fl4p/tescan and k-korn/tm3-can-logger (also the peer vectors), the
0x352 mux 2 example from Battery-Emulator, the ten 0x221 frames of the shared vector.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batmux.core.bank_config import LimitsConfig
from batmux.core.limits import LimitState, battery_limits
from batmux.errors import ProtocolError
from batmux.model.alarms import Alarm
from batmux.protocols import tesla_keepalive
from batmux.protocols.can_codec import decode_candump_frames
from batmux.protocols.tesla_alerts import encode_alerts
from batmux.protocols.tesla_model3 import TeslaModel3Codec, contactor_state
from batmux.sim.tesla_model3 import TeslaPackSim
from protocols.can_vectors import frames, load

KEEPALIVE = load("tesla_m3y_0x221_checksum")
AMP_VOLT_DISCHARGE = "132#7096AEFF5C26FF0F"  # 385.12 V, 8.2 A discharge (tescan README)
AMP_VOLT_CHARGING = "132#9F9218006640DD00"  # 375.35 V, 2.4 A charge, 221 min to full


def decode(*args: str):  # type: ignore[no-untyped-def]
    return decode_candump_frames("tesla_model3", list(args))


# -- 0x221 keep-alive (shared vector) -----------------------------------------------------------


def test_every_0x221_vector_frame_has_a_valid_checksum() -> None:
    found = frames(KEEPALIVE, None)
    assert len(found) == 10 and all(can_id == 0x221 for can_id, _ in found)
    for _, data in found:
        assert tesla_keepalive.is_valid(data), data.hex()
        assert tesla_keepalive.with_counter(data, tesla_keepalive.counter(data)) == data


def test_0x221_counter_and_mux_as_the_vector_notes_say() -> None:
    by_note = {f["note"]: bytes.fromhex(f["data"]) for f in KEEPALIVE["frames"]}
    drive0, drive1 = by_note["DRIVE Mux0 counter 15"], by_note["DRIVE Mux1 counter 0"]
    assert (tesla_keepalive.mux(drive0), tesla_keepalive.counter(drive0)) == (0, 15)
    assert (tesla_keepalive.mux(drive1), tesla_keepalive.counter(drive1)) == (1, 0)
    bumped = tesla_keepalive.with_counter(drive1, 1)
    assert tesla_keepalive.counter(bumped) == 1 and tesla_keepalive.is_valid(bumped)
    assert not tesla_keepalive.is_valid(drive1[:7] + bytes([drive1[7] ^ 1]))


# -- real pack frames ----------------------------------------------------------------------------


def test_real_0x132_sign_positive_while_charging() -> None:
    discharge = decode(AMP_VOLT_DISCHARGE)
    assert discharge.voltage_v == pytest.approx(385.12) and discharge.current_a == pytest.approx(
        -8.2
    )
    assert "charge_time_remaining_min" not in discharge.extra  # 4095 = n/a
    charging = decode(AMP_VOLT_CHARGING)  # a charge time remaining: the car was charging
    assert charging.current_a == pytest.approx(2.4)
    assert charging.extra["charge_time_remaining_min"] == 221


def test_real_0x352_mux2_frame_alone_gives_no_energy() -> None:
    """Battery-Emulator's 2021+ mux 2 example read as the old layout would claim 153.8 kWh."""
    s = decode(AMP_VOLT_DISCHARGE, "352#0226022002800000")
    assert "energy_full_kwh" not in s.extra and s.soc_pct is None


def test_no_0x132_is_no_sample() -> None:
    with pytest.raises(ProtocolError, match="0x132"):
        decode("292#0000000000000000")


# -- layouts (DBC positions) --------------------------------------------------------------------


def test_0x292_soc_ui_is_the_soc_and_the_others_are_extras() -> None:
    word = 500 | 523 << 10 | 540 << 20 | 520 << 30 | 750 << 40
    s = decode(AMP_VOLT_DISCHARGE, f"292#{word.to_bytes(8, 'little').hex()}")
    assert s.soc_pct == pytest.approx(52.3)
    assert (s.extra["soc_min"], s.extra["soc_max"], s.extra["soc_ave"]) == (50.0, 54.0, 52.0)
    assert s.extra["energy_bol_kwh"] == pytest.approx(75.0)
    sna = 500 | 1023 << 10 | 540 << 20 | 520 << 30
    assert decode(AMP_VOLT_DISCHARGE, f"292#{sna.to_bytes(8, 'little').hex()}").soc_pct == 52.0


def test_old_and_new_0x352_layouts() -> None:
    old = 752 | 376 << 11  # 75.2 kWh full, 37.6 kWh remaining, no mux
    s = decode(AMP_VOLT_DISCHARGE, f"352#{old.to_bytes(8, 'little').hex()}")
    assert (s.extra["energy_full_kwh"], s.extra["energy_remaining_kwh"]) == (75.2, 37.6)
    assert s.soc_pct == 50.0  # no 0x292: the energy ratio
    m0 = (3760 << 16 | 1880 << 32).to_bytes(8, "little").hex()  # ×0.02 kWh
    s = decode(AMP_VOLT_DISCHARGE, f"352#{m0}", "352#0100000000000000", "352#0226022002800000")
    assert (s.extra["energy_full_kwh"], s.extra["energy_remaining_kwh"]) == (75.2, 37.6)


def test_bricks_from_0x401_empty_muxes_ignored_chemistry_by_count() -> None:
    sim = TeslaPackSim
    cells96 = [3.7 + i * 0.0001 for i in range(96)]
    capture = [AMP_VOLT_DISCHARGE]
    capture += [f"401#{sim.brick_frame(m, cells96).hex()}" for m in range(36)]  # 32-35 empty
    s = decode(*capture)
    assert len(s.cell_voltages_v) == 96 and s.extra["chemistry"] == "NCA/NCM"
    assert s.cell_voltages_v[95] == pytest.approx(3.7095)
    assert bytes.fromhex(capture[-1][4:])[1] == 0  # status 0x00 on the empty muxes
    cells108 = [3.566] * 108  # sums to the captured 385.1 V pack voltage
    s = decode(
        AMP_VOLT_DISCHARGE, *[f"401#{sim.brick_frame(m, cells108).hex()}" for m in range(36)]
    )
    assert len(s.cell_voltages_v) == 108 and s.extra["chemistry"] == "LFP"
    cells106 = [3.633] * 106  # last frame: status 0x02, one brick
    last = sim.brick_frame(35, cells106)
    assert last[1] == 0x02
    s = decode(
        AMP_VOLT_DISCHARGE, *[f"401#{sim.brick_frame(m, cells106).hex()}" for m in range(36)]
    )
    assert len(s.cell_voltages_v) == 106 and s.extra["chemistry"] == "LFP"
    gap = [f"401#{sim.brick_frame(m, cells96).hex()}" for m in range(32) if m != 7]
    s = decode(AMP_VOLT_DISCHARGE, *gap)  # a mux not seen yet: no cells rather than a hole
    assert s.cell_voltages_v == () and s.extra["bricks_seen"] == 93


@pytest.mark.parametrize(
    ("bms", "pos", "neg", "set_state", "bms_state", "want"),
    [
        (1, 1, 1, 1, 0, "open"),
        (3, 2, 4, 2, 0, "precharge"),
        (3, 4, 4, 2, 0, "closing"),
        (4, 6, 6, 5, 1, "closed"),
        (2, 5, 5, 4, 0, "opening"),
        (5, 6, 6, 5, 7, "welded"),
        (4, 7, 6, 5, 1, "welded"),
        (6, 1, 1, 3, 0, "fault"),
        (1, 1, 1, 1, 6, "fault"),
        (0, 1, 1, 1, 0, "open"),  # 0x212 SNA: 0x20A's set state
    ],
)
def test_contactor_state(
    bms: int, pos: int, neg: int, set_state: int, bms_state: int, want: str
) -> None:
    status = {"bms_contactor_state": bms, "bms_state": bms_state}
    hvp = {"pos_contactor": pos, "neg_contactor": neg, "contactor_set_state": set_state}
    assert contactor_state(status, hvp) == want
    assert contactor_state(None, None) is None


def test_hvil_isolation_and_status_fields() -> None:
    hvp = (1 | 1 << 3 | 1 << 8 | 3 << 40).to_bytes(6, "little").hex()  # HVIL internal open
    status = (1 << 8 | 450 << 19 | 6 << 32).to_bytes(8, "little").hex()  # 4500 kΩ, BMS FAULT
    s = decode(AMP_VOLT_DISCHARGE, f"20A#{hvp}", f"212#{status}")
    assert s.extra["hvil"] == "internal_open_fault" and s.extra["hvil_ok"] is False
    assert s.extra["closing_allowed"] is False
    assert s.extra["isolation_kohm"] == 4500 and s.extra["bms_state"] == "fault"
    assert s.extra["contactor"] == "fault" and Alarm.BMS_FAULT in s.alarms
    assert s.charge_enabled is False and s.discharge_enabled is False  # open: no power path
    assert decode(AMP_VOLT_DISCHARGE).charge_enabled is None  # no contactor frame: unknown


def test_alert_matrix_to_alarms_and_warnings() -> None:
    payloads = encode_alerts({"a017_brick_ov", "a035_isolation", "a137_brick_uv_warning",
                              "a089_vcfront_mia", "a166_pack_full_weld"})  # fmt: skip
    s = decode(AMP_VOLT_DISCHARGE, *[f"320#{p.hex()}" for p in payloads.values()])
    assert {Alarm.CELL_OVERVOLTAGE, Alarm.BMS_FAULT} <= s.alarms
    assert s.warnings == {Alarm.CELL_UNDERVOLTAGE}
    assert "a089_vcfront_mia" in str(s.extra["bms_alerts"])  # informational, not an alarm
    assert s.extra["isolation_fault"] is True and s.extra["contactor"] == "welded"
    quiet = decode(AMP_VOLT_DISCHARGE, *[f"320#{p.hex()}" for p in encode_alerts(set()).values()])
    assert not quiet.alarms and quiet.extra["bms_alerts"] == ""


def test_power_limits_become_current_limits_the_engine_obeys() -> None:
    power = (2300 | 4600 << 16).to_bytes(8, "little").hex()  # 23 kW regen, 46 kW discharge
    s = decode(AMP_VOLT_DISCHARGE, f"252#{power}")
    assert s.extra["charge_current_limit"] == pytest.approx(23000 / 385.12, abs=0.05)
    assert s.extra["discharge_current_limit"] == pytest.approx(46000 / 385.12, abs=0.05)
    cfg = LimitsConfig(max_charge_current=200, max_discharge_current=300)
    got = battery_limits(cfg, s.with_(extra={**s.extra, "charge_voltage_limit": 400.0}),
                         True, LimitState(), 0.0)  # fmt: skip
    assert got.limits.charge_current_a == pytest.approx(59.7, abs=0.1)
    assert got.charge_rule == "bms" and got.discharge_rule == "bms"


# -- bad frames ---------------------------------------------------------------------------------


def test_bad_frames_counted_and_dropped() -> None:
    codec = TeslaModel3Codec()
    assert codec.feed("132#7096") == []  # too short
    assert codec.feed("20A#0102") == []
    assert codec.feed("not a frame") == []
    assert codec.feed("132#7096AEFF5C26FF0F00") == []  # 9 bytes
    assert codec.feed("7FF#00") == [] and codec.feed((0x221, bytes(8))) == []  # not the pack's
    assert codec.corrupt_frames == 4 and codec.unknown_frames == 2
    good = codec.feed(AMP_VOLT_DISCHARGE)
    assert codec.decode(good).voltage_v == pytest.approx(385.12)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0x132, 0x292, 0x332, 0x401, 0x212, 0x20A, 0x252, 0x352, 0x2D2,
                        0x312, 0x3D2, 0x320, 0x7FF]), st.binary(max_size=12))  # fmt: skip
def test_fuzz_feed_decode(can_id: int, data: bytes) -> None:
    codec = TeslaModel3Codec()
    out = codec.feed((can_id, data)) + codec.feed(AMP_VOLT_DISCHARGE)
    with contextlib.suppress(ProtocolError):
        codec.decode(out)
