"""Faults on the ESPHome proxy path cost the affected battery a reconnect, never the gateway:
a proxy restart mid-frame, more batteries than connection slots, GATT status 133 on connect,
and ``adapter: auto`` with two proxies (the stronger one wins; failover when it goes away or
keeps failing). Each test samples a bystander battery the whole time and checks it never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from batmux.config import Config
from batmux.errors import BatmuxError
from batmux.links.ble_paths import AutoLink
from batmux.links.esphome_proxy import NoFreeSlot
from batmux.runtime.proxies import proxies_for
from batmux.sim.esphome_proxy import SimProxy
from ble_sim import sample_until_ok
from broker_process import free_port
from proxy_helpers import (
    FAMILIES,
    KEY,
    air_device,
    close,
    fast,
    proxy_config,
    sim_battery,
    sources,
)

PERIOD = 0.05


class Log:
    """What a sampling loop saw: (monotonic time, sample or error)."""

    def __init__(self) -> None:
        self.ok: list[float] = []
        self.errors: list[BatmuxError] = []
        self.longest_call = 0.0

    def gap(self, start: float, end: float) -> float:
        """The longest time between successful samples in [start, end]."""
        times = [start, *(t for t in self.ok if start <= t <= end), end]
        return max(b - a for a, b in itertools.pairwise(times))


async def sample_loop(source: Any, log: Log) -> None:
    while True:
        began = time.monotonic()
        try:
            await source.sample()
            log.ok.append(time.monotonic())
        except BatmuxError as exc:
            log.errors.append(exc)
        log.longest_call = max(log.longest_call, time.monotonic() - began)
        await asyncio.sleep(PERIOD)


@contextlib.asynccontextmanager
async def sampling(config: Config, batteries: Sequence[Any]) -> AsyncIterator[list[Log]]:
    """Sample every battery in the background; on exit stop and close them and the proxies."""
    logs = [Log() for _ in batteries]
    tasks = [
        asyncio.create_task(sample_loop(s, log)) for s, log in zip(batteries, logs, strict=True)
    ]
    try:
        yield logs
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close(config, batteries)


def battery(name: str, family: str, adapter: str, **extra: Any) -> dict[str, Any]:
    mac = FAMILIES[family][0]
    return {"name": name, "type": family, "address": mac, "adapter": adapter, "timeout": 1,
            **extra}  # fmt: skip


async def test_proxy_restart_mid_frame_costs_only_its_battery_a_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="batmux.links.esphome_proxy")
    async with SimProxy("garage") as garage, SimProxy("shed") as shed:
        garage.hear(air_device("jk", sim_battery()))  # 300-byte frames in 15 notifications
        shed.hear(air_device("jbd", sim_battery()))
        config = fast(
            proxy_config(
                [garage, shed],
                [battery("jk", "jk", "proxy:garage"), battery("jbd", "jbd", "proxy:shed")],
            )
        )
        jk, jbd = sources(config)
        async with sampling(config, [jk, jbd]) as logs:
            await asyncio.sleep(0.4)
            # JK frames are 300 bytes in 15 notifications: reboot at the 8th of the next frame,
            # with half an API frame on the wire
            garage.restart_at_notification = (garage.notifications // 15 + 1) * 15 + 8
            async with asyncio.timeout(2):
                while not garage.restarts:
                    await asyncio.sleep(0.01)
            cut = time.monotonic()
            await asyncio.sleep(1.0)
            end = time.monotonic()
    jk_log, jbd_log = logs
    assert [t for t in jk_log.ok if t > cut + 0.3], "the jk battery came back after the reboot"
    assert jk.health.drops >= 1 and jk.health.connects == 2
    assert garage.api_connects == 2  # the proxy session reconnected by itself
    assert jbd_log.gap(cut, end) < 0.5 and not jbd_log.errors  # the bystander never noticed
    assert jk_log.longest_call < 1.5  # no call hung on the dead proxy beyond its timeout
    # lost, refused while it reboots, back: one WARNING and one INFO, not one per retry
    levels = [r.levelno for r in caplog.records if "proxy garage" in r.getMessage()]
    assert levels == [logging.WARNING, logging.INFO], caplog.text


async def test_proxy_off_wifi_is_noticed_by_the_keepalive() -> None:
    async with SimProxy("garage") as garage, SimProxy("shed") as shed:
        garage.hear(air_device("jbd", sim_battery()))
        shed.hear(air_device("ant", sim_battery()))
        config = fast(
            proxy_config(
                [garage, shed],
                [battery("jbd", "jbd", "proxy:garage"), battery("ant", "ant", "proxy:shed")],
            )
        )
        for proxy in proxies_for(config).values():
            proxy.keepalive_s = 0.1  # a silent drop is noticed after 4.5 keepalives
            proxy.connect_timeout_s = 0.3  # reconnects meanwhile get no answer either
        garage_proxy = proxies_for(config)["garage"]
        jbd, ant = sources(config)
        async with sampling(config, [jbd, ant]) as logs:
            await asyncio.sleep(0.4)
            garage.silent = True  # no reset, no answers: only the keepalive can tell
            cut = time.monotonic()
            await asyncio.sleep(0.8)
            garage.silent = False
            await asyncio.sleep(0.8)
            end = time.monotonic()
    assert garage_proxy.sessions == 2  # dropped by the keepalive, reconnected
    assert [t for t in logs[0].ok if t > cut + 0.8], "the jbd battery came back"
    assert logs[1].gap(cut, end) < 0.5 and not logs[1].errors


async def test_more_batteries_than_slots() -> None:
    families = ("jbd", "daly", "ant", "sok")
    async with SimProxy("garage", slots=2) as garage:
        for family in families:
            garage.hear(air_device(family, sim_battery()))
        config = fast(
            proxy_config(
                [garage], [battery(f, f, "proxy:garage", keep_alive=False) for f in families]
            )
        )
        async with sampling(config, sources(config)) as logs:
            await asyncio.sleep(2.0)
    assert garage.max_in_use == 2  # never more connections than slots
    assert all(log.ok for log in logs), [len(log.ok) for log in logs]  # everyone got its turn
    refused = [e for log in logs for e in log.errors if isinstance(e, NoFreeSlot)]
    assert refused, [log.errors for log in logs]  # reported as a full proxy, not a timeout
    longest = [round(log.longest_call, 2) for log in logs]
    assert max(longest) < 1.5, longest  # bounded by the 1 s timeout: nobody stalls


async def test_gatt_status_133_on_connect_is_retried_with_backoff() -> None:
    async with SimProxy("garage") as garage:
        flaky = garage.hear(air_device("jbd", sim_battery()))
        flaky.connect_errors = 2
        garage.hear(air_device("daly", sim_battery()))
        config = fast(
            proxy_config(
                [garage],
                [battery("jbd", "jbd", "proxy:garage"), battery("daly", "daly", "proxy:garage")],
            )
        )
        jbd, daly = sources(config)
        async with sampling(config, [jbd, daly]) as logs:
            await asyncio.sleep(1.2)
    statuses = [
        getattr(e.__cause__, "status", None) or getattr(e, "status", None) for e in logs[0].errors
    ]
    assert statuses.count(133) == 2 and logs[0].ok  # two refusals, then it reads
    assert "GATT status 133" in jbd.health.last_error
    assert not logs[1].errors and len(logs[1].ok) >= 5


async def test_auto_picks_the_stronger_proxy_and_fails_over_when_it_goes_away() -> None:
    async with SimProxy("near") as near, SimProxy("far") as far:
        pack = near.hear(air_device("jbd", sim_battery()), rssi=-52)
        far.hear(pack, rssi=-83)  # the same peripheral, heard by both
        config = fast(proxy_config([near, far], [battery("pack", "jbd", "auto")]))
        [source] = sources(config)
        link = source.driver.link
        assert isinstance(link, AutoLink)
        async with sampling(config, [source]) as [log]:
            await asyncio.sleep(0.6)
            first = source.health.to_json()
            await near.stop()  # the near proxy loses power
            gone = time.monotonic()
            await asyncio.sleep(1.0)
    assert first["ble_path"] == "proxy:near" and first["ble_rssi"] == -52
    after = source.health.to_json()
    assert after["ble_path"] == "proxy:far" and after["ble_rssi"] == -83
    assert [t for t in log.ok if t > gone], "reads went on through the far proxy"
    assert far.gatt == {} and pack.connects == 2


async def test_auto_fails_over_after_repeated_connect_failures() -> None:
    async with SimProxy("near") as near, SimProxy("far") as far:
        pack = near.hear(air_device("jbd", sim_battery()), rssi=-50)
        far.hear(pack, rssi=-80)
        near.fail_connects_with = 133  # hears it well, cannot connect (a flaky ESP32)
        config = fast(proxy_config([near, far], [battery("pack", "jbd", "auto")]))
        [source] = sources(config)
        link = source.driver.link
        assert isinstance(link, AutoLink)
        try:
            sample = None
            for _ in range(40):
                try:
                    sample = await source.sample()
                    break
                except BatmuxError:
                    await asyncio.sleep(0.06)
        finally:
            await close(config, [source])
    assert sample is not None and link.path == "proxy:far"
    assert "proxy:near" in link.benched_until  # three failures in a row benched it


async def test_auto_fails_over_from_a_proxy_that_connects_but_delivers_nothing() -> None:
    async with SimProxy("near") as near, SimProxy("far") as far:
        pack = near.hear(air_device("jbd", sim_battery()), rssi=-50)
        far.hear(pack, rssi=-80)
        near.drop_notifications = True
        config = fast(proxy_config([near, far], [battery("pack", "jbd", "auto", timeout=0.3)]))
        [source] = sources(config)
        source.sample_period_s, source.stuck_after_periods = 0.1, 2
        link = source.driver.link
        assert isinstance(link, AutoLink)
        link.fail_over_after = 2
        try:
            sample = await sample_until_ok(source, within_s=4.0)
        finally:
            await close(config, [source])
    assert sample.voltage_v and link.path == "proxy:far"
    assert "proxy:near" in link.benched_until and pack.connects >= 3  # near twice, then far


async def test_auto_skips_a_full_proxy() -> None:
    async with SimProxy("near", slots=1) as near, SimProxy("far") as far:
        first = near.hear(air_device("jbd", sim_battery()), rssi=-50)
        second = near.hear(air_device("daly", sim_battery()), rssi=-50)
        far.hear(second, rssi=-85)
        config = fast(
            proxy_config(
                [near, far], [battery("a", "jbd", "proxy:near"), battery("b", "daly", "auto")]
            )
        )
        a, b = sources(config)
        try:
            await sample_until_ok(a)
            await asyncio.sleep(0.1)  # the proxy's free-slot message arrives
            await sample_until_ok(b)
        finally:
            await close(config, [a, b])
    assert first.connects == 1 and b.driver.link.path == "proxy:far"  # type: ignore[attr-defined]


async def test_garbage_from_the_proxy_costs_only_its_battery_a_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with SimProxy("garage", encryption_key=KEY) as garage, SimProxy("shed") as shed:
        garage.hear(air_device("jbd", sim_battery()))
        shed.hear(air_device("ant", sim_battery()))
        config = fast(
            proxy_config(
                [garage, shed],
                [battery("jbd", "jbd", "proxy:garage"), battery("ant", "ant", "proxy:shed")],
            )
        )
        garage_proxy = proxies_for(config)["garage"]
        jbd, ant = sources(config)
        with caplog.at_level(logging.WARNING, logger="batmux.links.esphome_proxy"):
            async with sampling(config, [jbd, ant]) as logs:
                await asyncio.sleep(0.4)
                garage.garble()  # not an API frame, and the connection stays open
                cut = time.monotonic()
                async with asyncio.timeout(2):
                    while garage.api_connects < 2:
                        await asyncio.sleep(0.01)
                await asyncio.sleep(0.5)
                end = time.monotonic()
    assert [t for t in logs[0].ok if t > cut + 0.3], "the jbd battery came back"
    assert jbd.health.drops >= 1 and garage_proxy.sessions == 2
    assert logs[1].gap(cut, end) < 0.5 and not logs[1].errors  # the bystander never noticed
    lost = [r for r in caplog.records if "API connection lost" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING


async def test_proxy_down_at_start_is_retried_until_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    garage = SimProxy("garage", port=free_port())  # configured, not running yet
    garage.hear(air_device("jbd", sim_battery(soc=47.0)))
    config = fast(proxy_config([garage], [battery("jbd", "jbd", "proxy:garage", timeout=0.3)]))
    [source] = sources(config)
    with caplog.at_level(logging.INFO, logger="batmux.links.esphome_proxy"):
        try:
            for _ in range(2):
                with pytest.raises(BatmuxError, match="offline: unreachable"):
                    await source.sample()
                await asyncio.sleep(0.25)  # past the battery's backoff
            async with garage:
                sample = await sample_until_ok(source, within_s=3.0)
        finally:
            await close(config, [source])
    assert sample.soc_pct == pytest.approx(47.0, abs=1)
    assert garage.api_connects == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "unreachable" in m]) == 1  # logged once, not per retry
    assert len([m for m in messages if "is back" in m]) == 1
