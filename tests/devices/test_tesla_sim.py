"""The simulated Tesla pack: its frames in an independent decoder's arithmetic, its keep-alive
gate, and the codec on its whole output (sum of bricks ≈ pack voltage).

The decoder below is written out from the DBC (joshwardell/model3dbc) and Battery-Emulator's
byte arithmetic (Software/src/battery/TESLA-BATTERY.cpp: masks and shifts per byte), not with
batmux's signal tables, so a wrong table in the codec cannot hide behind the simulator.
"""

from __future__ import annotations

import pytest

from batmux.core.plausibility import check_plausible
from batmux.protocols import tesla_keepalive
from batmux.protocols.tesla_model3 import TeslaModel3Codec
from batmux.sim.tesla_model3 import TeslaPackSim, tesla_battery

KEEPALIVE = bytes.fromhex("605555155451F1D8")  # DRIVE mux 0 (shared vector)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def be_decode(frames: list[tuple[int, bytes]]) -> dict[str, float]:
    """Battery-Emulator style: bytes, masks and shifts."""
    out: dict[str, float] = {}
    cells: dict[int, float] = {}
    for can_id, d in frames:
        if can_id == 0x132:
            out["volts"] = ((d[1] << 8) | d[0]) * 0.01
            amps = (d[3] << 8) | d[2]
            out["amps"] = (amps - 0x10000 if amps & 0x8000 else amps) * 0.1  # + = charging
        elif can_id == 0x292:
            out["soc_ui"] = (((d[2] & 0x0F) << 6) | ((d[1] & 0xFC) >> 2)) * 0.1
        elif can_id == 0x332 and d[0] & 0x03 == 1:
            out["cell_max"] = (((d[1] & 0x3F) << 6) | ((d[0] >> 2) & 0x3F)) * 0.002
            out["cell_min"] = (((d[3] & 0x0F) << 8) | d[2]) * 0.002
            out["cell_max_num"] = 1 + (d[4] & 0x7F)
        elif can_id == 0x332 and d[0] & 0x03 == 0:
            out["temp_max"] = d[2] * 0.5 - 40
            out["temp_min"] = d[3] * 0.5 - 40
        elif can_id == 0x401 and d[1] == 0x2A:
            for k in range(3):
                cells[d[0] * 3 + k] = ((d[3 + 2 * k] << 8) | d[2 + 2 * k]) / 10000
        elif can_id == 0x212:
            out["bms_contactor"] = d[1] & 0x07
            out["isolation_kohm"] = (((d[3] & 0x1F) << 5) | ((d[2] >> 3) & 0x1F)) * 10
        elif can_id == 0x20A:
            out["neg"], out["pos"] = d[0] & 0x07, (d[0] >> 3) & 0x07
            out["hvil"] = d[5] & 0x0F
        elif can_id == 0x252:
            out["regen_kw"] = ((d[1] << 8) | d[0]) * 0.01
            out["discharge_kw"] = ((d[3] << 8) | d[2]) * 0.01
        elif can_id == 0x352 and d[0] & 0x03 == 0:
            out["full_kwh"] = ((d[3] << 8) | d[2]) * 0.02
            out["remaining_kwh"] = ((d[5] << 8) | d[4]) * 0.02
    out["bricks"] = len(cells)
    out["brick_sum"] = sum(cells.values())
    return out


def cycle(
    pack: TeslaPackSim, clock: Clock | None = None, seconds: float = 0.5
) -> list[tuple[int, bytes]]:
    frames: list[tuple[int, bytes]] = []
    for _ in range(int(seconds / 0.1)):
        for _ in range(10):
            frames += pack.fast_frames()
            if clock is not None:
                clock.now += 0.01
        frames += pack.frames_100ms()
    return frames + pack.frames_1s()


def test_simulated_nca_pack_in_battery_emulator_arithmetic() -> None:
    pack = TeslaPackSim(tesla_battery(96, soc_pct=63.0, current_a=-12.0))
    truth = pack.battery.truth()
    got = be_decode(cycle(pack, seconds=3.6))
    assert got["bricks"] == 96  # muxes 32-35 carry status 0x00
    assert abs(got["volts"] - truth.voltage_v) < 0.02  # type: ignore[operator]
    assert got["brick_sum"] == pytest.approx(got["volts"], abs=0.05)  # bricks ≈ pack
    assert 3.6 < got["cell_min"] <= got["cell_max"] < 4.0  # NCA, not LFP
    assert got["soc_ui"] == pytest.approx(63.0, abs=0.1)
    assert got["amps"] == 0.0  # contactors open without the keep-alive: no current
    assert got["bms_contactor"] == 1 and (got["pos"], got["neg"]) == (1, 1)
    assert got["hvil"] == 1 and got["isolation_kohm"] == 5000
    assert got["full_kwh"] == pytest.approx(235 * 3.6 * 96 / 1000, abs=0.02)
    assert got["remaining_kwh"] == pytest.approx(got["full_kwh"] * 0.63, abs=0.05)
    assert got["discharge_kw"] == pytest.approx(235 * got["volts"] / 1000, rel=0.01)  # 1 C
    assert got["temp_min"] <= got["temp_max"]


def test_keepalive_closes_and_its_loss_opens_the_contactors() -> None:
    clock = Clock()
    pack = TeslaPackSim(tesla_battery(108, soc_pct=50.0, current_a=-20.0), clock=clock)
    assert pack.step() == "open"
    pack.on_frame(0x221, KEEPALIVE[:7] + b"\x00")  # bad checksum: not a keep-alive
    assert pack.step() == "open" and pack.bad_keepalive_frames == 1
    states = []
    for _ in range(60):  # 0.6 s of a valid keep-alive every 50 ms
        pack.on_frame(0x221, tesla_keepalive.with_counter(KEEPALIVE, len(states)))
        for _ in range(5):
            clock.now += 0.01
            states.append(pack.step())
    assert states.index("precharge") < states.index("closing") < states.index("closed")
    codec = TeslaModel3Codec()
    frames = [f for frame in cycle(pack, clock, seconds=0.2) for f in codec.feed(frame)]
    pack.on_frame(0x221, KEEPALIVE)
    s = codec.decode(frames)
    assert s.extra["contactor"] == "closed" and s.current_a == pytest.approx(-20.0)
    assert "a089_vcfront_mia" not in str(s.extra["bms_alerts"])
    clock.now += 1.0  # keep-alive gone longer than its timeout
    assert pack.step() == "opening"
    clock.now += 0.2
    assert pack.step() == "open"
    s = codec.decode([f for frame in cycle(pack, clock, 0.2) for f in codec.feed(frame)])
    assert s.extra["contactor"] == "open" and s.current_a == 0.0
    assert "a089_vcfront_mia" in str(s.extra["bms_alerts"])


def test_hvil_open_keeps_the_pack_open() -> None:
    clock = Clock()
    pack = TeslaPackSim(tesla_battery(96), clock=clock, hvil_ok=False)
    for _ in range(20):
        pack.on_frame(0x221, KEEPALIVE)
        clock.now += 0.05
        assert pack.step() == "open"
    codec = TeslaModel3Codec()
    s = codec.decode([f for frame in cycle(pack, clock, 0.2) for f in codec.feed(frame)])
    assert s.extra["hvil_ok"] is False and s.extra["closing_allowed"] is False


def test_whole_lfp_capture_decodes_with_bricks_matching_the_pack() -> None:
    pack = TeslaPackSim(tesla_battery(108, soc_pct=80.0))
    codec = TeslaModel3Codec()
    s = codec.decode([f for frame in cycle(pack, seconds=3.6) for f in codec.feed(frame)])
    assert len(s.cell_voltages_v) == 108 and s.extra["chemistry"] == "LFP"
    assert sum(s.cell_voltages_v) == pytest.approx(s.voltage_v, abs=0.05)
    assert s.soc_pct == pytest.approx(80.0) and s.capacity_ah == pytest.approx(165.0, abs=0.1)
    assert codec.corrupt_frames == 0 and codec.unknown_frames == 0
    check_plausible(s)


def test_every_sample_of_a_long_run_is_plausible() -> None:
    """Sample after every 100 ms over a full brick scan, while discharging through closed
    contactors: no sample fails plausibility; bricks ≈ pack voltage whenever complete."""
    clock = Clock()
    pack = TeslaPackSim(tesla_battery(96, soc_pct=30.0, current_a=-150.0), clock=clock)
    codec = TeslaModel3Codec()
    frames: list[bytes] = []
    for step in range(80):
        pack.on_frame(0x221, KEEPALIVE)
        for frame in cycle(pack, clock, seconds=0.1):
            frames += codec.feed(frame)
        s = codec.decode(frames[-400:])
        check_plausible(s)
        if s.cell_voltages_v:
            assert sum(s.cell_voltages_v) == pytest.approx(s.voltage_v, abs=0.1), step
    assert s.extra["contactor"] == "closed" and s.current_a == pytest.approx(-150.0)
    assert s.extra["discharge_current_limit"] > 0
