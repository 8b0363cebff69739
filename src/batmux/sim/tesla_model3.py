"""A simulated Tesla Model 3/Y pack on a CAN bus, running the shared battery model.

96 bricks = NCA/NCM (its own OCV curve), 102-108 = LFP (the shared LFP model). The frames are
built with the codec's own DBC tables (``protocols.tesla_model3``); the tests check them with
an independent reimplementation of the DBC arithmetic. Periods: the DBC's GenMsgCycleTime
where it gives one (0x132 10 ms; 0x212/0x252/0x292/0x2D2 100 ms; 0x312/0x352/0x3D2 1 s); for
0x20A, 0x320, 0x332 and 0x401 (none given) 100 ms per frame, muxes in turn.

The keep-alive: like a real pack, it reports its contactors open (and alert a089 VcFront_MIA)
unless it receives valid 0x221 frames (checksum as ``protocols.tesla_keepalive``); with them it
goes open → precharge → closing → closed, and opens again when they stop for
``keepalive_timeout_s``. With ``require_presence`` (off by default) it behaves like newer pack
firmware: it also needs the vehicle-presence frames 0x118, 0x2E1, 0x3C2, 0x39D and 0x7FF
(``protocols.tesla_presence``, checksums checked) within that timeout, and reports
a089_vcfront_mia / a090_gateway_mia while they are missing. Only current through closed
contactors moves the SoC. A minimal model for the contactor control to be built against: it
does not read the power state in the frames.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from batmux.links.can_bus import CanLink
from batmux.protocols import tesla_keepalive, tesla_presence
from batmux.protocols.candump import Frame
from batmux.protocols.tesla_alerts import encode_alerts
from batmux.protocols.tesla_model3 import (
    AMP_VOLT,
    BRICK_MINMAX,
    ENERGY_M0,
    HVP,
    POWER,
    SOC,
    STATUS,
    TEMP_MINMAX,
    THERMAL,
    TOTALS,
    VA_LIMITS,
)
from batmux.protocols.tesla_signals import Signal, encode_signals
from batmux.sim.battery import SimBattery

NCA_OCV: tuple[tuple[float, float], ...] = (
    (0.0, 3.00), (5.0, 3.30), (10.0, 3.45), (20.0, 3.55), (30.0, 3.62), (40.0, 3.68),
    (50.0, 3.75), (60.0, 3.83), (70.0, 3.92), (80.0, 4.00), (90.0, 4.08), (100.0, 4.18),
)  # fmt: skip
_NCA_SOC = tuple(p[0] for p in NCA_OCV)
RAW_CURRENT = Signal("raw_current", 32, 16, -0.05, 822, signed=True)  # Tesla sign: + = discharge
ENERGY_M1 = (Signal("energy_buffer_kwh", 16, 16, 0.01), Signal("expected_kwh", 32, 16, 0.02))
ENERGY_M2 = bytes.fromhex("0226022002800000")  # Battery-Emulator's example frame, never changes
# contactor state → (0x212 BMS_contactorState, hv_state, 0x20A pos, neg, set state)
STATE_CODES = {
    "open": (1, 0, 1, 1, 1),
    "precharge": (3, 1, 2, 4, 2),
    "closing": (3, 1, 4, 4, 2),
    "closed": (4, 3, 6, 6, 5),
    "opening": (2, 2, 5, 5, 4),
}
HVIL_OK, HVIL_INTERNAL_OPEN = 1, 3
# the presence frames a ``require_presence`` pack waits for (the 10/50/100 ms ones)
REQUIRED_PRESENCE = (0x118, 0x2E1, 0x3C2, 0x39D, 0x7FF)


def nca_ocv(soc_pct: float) -> float:
    soc = min(max(soc_pct, 0.0), 100.0)
    i = min(bisect.bisect_right(_NCA_SOC, soc), len(NCA_OCV) - 1)
    (x0, y0), (x1, y1) = NCA_OCV[i - 1], NCA_OCV[i]
    return y0 + (y1 - y0) * (soc - x0) / (x1 - x0)


class NcaSimBattery(SimBattery):
    """The shared battery model with an NCA/NCM open-circuit voltage curve."""

    def cell_voltages(self) -> list[float]:
        current = self.effective_current(self._last)
        base = nca_ocv(self.soc_pct) + current * self.internal_resistance_ohm
        return [round(base + off, 4) for off in self._offsets]


def tesla_battery(bricks: int = 96, **kwargs: object) -> SimBattery:
    """A pack of ``bricks`` bricks: NCA 96 (~235 Ah) or LFP 102-108 (~165 Ah)."""
    if bricks >= 102:
        kwargs.setdefault("capacity_ah", 165.0)
        return SimBattery(cells=bricks, **kwargs)  # type: ignore[arg-type]
    kwargs.setdefault("capacity_ah", 235.0)
    return NcaSimBattery(cells=bricks, **kwargs)  # type: ignore[arg-type]


@dataclass
class TeslaPackSim:
    battery: SimBattery
    clock: Callable[[], float] = time.monotonic
    keepalive_timeout_s: float = 0.5
    precharge_s: float = 0.3
    closing_s: float = 0.1
    opening_s: float = 0.1
    hvil_ok: bool = True
    hvp_frames: bool = True  # False: no 0x20A at all (HVIL unknown to the reader)
    alerts: set[str] = field(default_factory=set)  # injected BMS alerts (tesla_alerts names)
    require_presence: bool = False  # newer firmware: also needs the vehicle-presence frames
    bad_presence_frames: int = 0
    _presence_seen: dict[int, float] = field(default_factory=dict, init=False)
    state: str = "open"
    keepalive_frames: int = 0
    bad_keepalive_frames: int = 0
    _since: float = field(default=0.0, init=False)
    _last_keepalive: float | None = field(default=None, init=False)
    _counters: dict[int, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._since = self.clock()
        self._set_flow(False)

    @property
    def lfp(self) -> bool:
        return self.battery.cells >= 102

    # -- keep-alive and contactors -------------------------------------------------------------

    def on_frame(self, can_id: int, data: bytes) -> None:
        if can_id in REQUIRED_PRESENCE:
            if tesla_presence.is_valid(can_id, data):
                self._presence_seen[can_id] = self.clock()
            else:
                self.bad_presence_frames += 1
            return
        if can_id != tesla_keepalive.ID_LV_POWER_STATE:
            return
        if tesla_keepalive.is_valid(data):
            self.keepalive_frames += 1
            self._last_keepalive = self.clock()
        else:
            self.bad_keepalive_frames += 1

    def keepalive_present(self) -> bool:
        last = self._last_keepalive
        return last is not None and self.clock() - last <= self.keepalive_timeout_s

    def presence_missing(self) -> list[int]:
        """Required presence frames not seen within the timeout (none unless required)."""
        if not self.require_presence:
            return []
        now = self.clock()
        seen = self._presence_seen
        return [i for i in REQUIRED_PRESENCE if now - seen.get(i, -1e9) > self.keepalive_timeout_s]

    def step(self) -> str:
        """Move the contactors one step towards what the keep-alive asks for."""
        now = self.clock()
        held = now - self._since
        wanted = self.keepalive_present() and self.hvil_ok and not self.presence_missing()
        nxt = self.state
        if wanted and self.state == "open":
            nxt = "precharge"
        elif wanted and self.state == "precharge" and held >= self.precharge_s:
            nxt = "closing"
        elif wanted and self.state == "closing" and held >= self.closing_s:
            nxt = "closed"
        elif not wanted and self.state in ("precharge", "closing", "closed"):
            nxt = "opening"
        elif self.state == "opening" and held >= self.opening_s:
            nxt = "open"
        if nxt != self.state:
            self.state, self._since = nxt, now
            self._set_flow(nxt == "closed")
        return self.state

    def _set_flow(self, closed: bool) -> None:
        """Current flows only through closed contactors."""
        self.battery.charge_enabled = self.battery.discharge_enabled = closed

    # -- frames --------------------------------------------------------------------------------

    def _next(self, can_id: int, count: int) -> int:
        value = self._counters.get(can_id, 0)
        self._counters[can_id] = (value + 1) % count
        return value

    def limits_a(self) -> tuple[float, float]:
        """The BMS's own charge/discharge current: 0.5 C / 1 C, 0 at full/empty or when open."""
        b = self.battery
        charge = (
            b.capacity_ah * 0.5 if b.soc_pct < 100 and "a017_brick_ov" not in self.alerts else 0.0
        )
        discharge = (
            b.capacity_ah * 1.0 if b.soc_pct > 0 and "a018_brick_uv" not in self.alerts else 0.0
        )
        return charge, discharge

    def fast_frames(self) -> list[Frame]:
        """10 ms: 0x132."""
        self.step()
        s = self.battery.truth()
        current = s.current_a or 0.0
        values = {"voltage": s.voltage_v, "current": current, "charge_time_remaining_min": 4095}
        body = encode_signals(AMP_VOLT, values)
        body = encode_signals(
            (RAW_CURRENT,), {"raw_current": -current}, word=int.from_bytes(body, "little")
        )
        return [(0x132, body)]

    def frames_100ms(self) -> list[Frame]:
        """0x212, 0x20A, 0x252, 0x292, 0x2D2, and one mux each of 0x332 and 0x401."""
        b = self.battery
        s = b.truth()
        voltage = s.voltage_v or 0.0
        cells = list(s.cell_voltages_v)
        bms, hv, pos, neg, set_state = STATE_CODES[self.state]
        charge_a, discharge_a = self.limits_a()
        full_kwh = self.energy_full_kwh()
        lo, hi = (2.5, 3.65) if self.lfp else (3.0, 4.2)
        frames: list[Frame] = [
            (0x212, encode_signals(STATUS, {
                "bms_contactor_state": bms, "hv_state": hv, "isolation_kohm": 5000,
                "bms_state": 1 if self.state == "closed" else 0,
                "charge_power_available_kw": charge_a * voltage / 1000,
                "min_pack_temperature": min(s.temperatures_c),
            })),
            (0x20A, encode_signals(HVP, {
                "neg_contactor": neg, "pos_contactor": pos, "contactor_set_state": set_state,
                "closing_allowed": 1 if self.hvil_ok else 0,
                "hvil_status": HVIL_OK if self.hvil_ok else HVIL_INTERNAL_OPEN,
            }, length=6)),
            (0x252, encode_signals(POWER, {
                "max_charge_power_kw": charge_a * voltage / 1000,
                "max_discharge_power_kw": discharge_a * voltage / 1000,
            })),
            (0x292, encode_signals(SOC, {
                "soc_min": max(b.soc_pct - 0.5, 0), "soc_ui": b.soc_pct,
                "soc_max": min(b.soc_pct + 0.5, 100), "soc_ave": b.soc_pct,
                "energy_bol_kwh": full_kwh,
            })),
            (0x2D2, encode_signals(VA_LIMITS, {
                "bms_min_voltage": lo * b.cells, "bms_max_voltage": hi * b.cells,
                "bms_max_charge_current": charge_a, "bms_max_discharge_current": discharge_a,
            })),
        ]  # fmt: skip
        if self._next(0x332, 2) == 0:
            temps = {
                "temperature_min": min(s.temperatures_c),
                "temperature_max": max(s.temperatures_c),
            }
            frames.append((0x332, encode_signals(TEMP_MINMAX, temps)))
        else:
            low, high = min(cells), max(cells)
            values = {"cell_max": high, "cell_min": low, "cell_max_id": cells.index(high) + 1,
                      "cell_min_id": cells.index(low) + 1}  # fmt: skip
            frames.append((0x332, encode_signals(BRICK_MINMAX, values, word=1)))
        frames.append((0x401, self.brick_frame(self._next(0x401, 36), cells)))
        if not self.hvp_frames:
            frames = [f for f in frames if f[0] != 0x20A]
        return frames

    @staticmethod
    def brick_frame(index: int, cells: list[float]) -> bytes:
        """Mux ``index`` of 0x401: status bit 2k+1 per brick present (0x2A = three)."""
        present = cells[3 * index : 3 * index + 3]
        status = sum(1 << (2 * k + 1) for k in range(len(present)))
        raws = [round(v / 0.0001) for v in present] + [0] * (3 - len(present))
        return bytes([index, status]) + b"".join(r.to_bytes(2, "little") for r in raws)

    def energy_full_kwh(self) -> float:
        nominal = 3.2 if self.lfp else 3.6
        return round(self.battery.capacity_ah * nominal * self.battery.cells / 1000, 2)

    def frames_1s(self) -> list[Frame]:
        """0x312, 0x352 (mux 0, 1, 2), 0x3D2, 0x320 (mux 0, 1, 2)."""
        s = self.battery.truth()
        full = self.energy_full_kwh()
        alerts = set(self.alerts)
        missing = self.presence_missing()
        if not self.keepalive_present() or 0x2E1 in missing:
            alerts.add("a089_vcfront_mia")
        if 0x7FF in missing:
            alerts.add("a090_gateway_mia")
        temps = {
            "pack_temperature_min": min(s.temperatures_c),
            "pack_temperature_max": max(s.temperatures_c),
        }
        m0 = {"energy_full_kwh": full, "energy_remaining_kwh": full * self.battery.soc_pct / 100}
        m1 = {"energy_buffer_kwh": 1.5, "expected_kwh": m0["energy_remaining_kwh"]}
        frames: list[Frame] = [
            (0x312, encode_signals(THERMAL, temps)),
            (0x352, encode_signals(ENERGY_M0, m0)),
            (0x352, encode_signals(ENERGY_M1, m1, word=1)),
            (0x352, ENERGY_M2),
            (0x3D2, encode_signals(TOTALS, {"discharged_kwh_total": 12345.678,
                                            "charged_kwh_total": 13456.789})),
        ]  # fmt: skip
        frames += [(0x320, payload) for payload in encode_alerts(alerts).values()]
        return frames


@dataclass(frozen=True, slots=True)
class TeslaPeriods:
    fast_s: float = 0.01
    medium_s: float = 0.1
    slow_s: float = 1.0


async def run_tesla_pack(
    name: str, pack: TeslaPackSim, link: CanLink, periods: TeslaPeriods | None = None
) -> None:
    """Send the pack's frames on their periods and listen for the keep-alive, until cancelled."""
    periods = periods or TeslaPeriods()
    loop = asyncio.get_running_loop()

    async def listen() -> None:
        while True:
            frame = await link.recv(1.0)
            if frame is not None:
                pack.on_frame(*frame)

    schedule = [
        (periods.fast_s, pack.fast_frames),
        (periods.medium_s, pack.frames_100ms),
        (periods.slow_s, pack.frames_1s),
    ]
    due = [loop.time()] * len(schedule)
    async with link, asyncio.TaskGroup() as tasks:
        tasks.create_task(listen(), name=f"tesla-sim-{name}-listen")
        while True:
            now = loop.time()
            for i, (period, build) in enumerate(schedule):
                if now >= due[i]:
                    await link.send_all(build())
                    due[i] = max(due[i] + period, now)  # no burst to catch up after a stall
            await asyncio.sleep(max(0.0, min(due) - loop.time()))
