"""The Venus battery service on a private dbus-daemon, watched like dbusmonitor watches it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from types import SimpleNamespace

from dbus_fast import MessageType, Variant
from dbus_fast.aio import MessageBus

from batmux.config import parse_config
from batmux.links.venus_dbus import wrap
from batmux.runtime.hub import StateHub
from batmux.sinks.venus import VenusService, run_venus, venus_sink
from batmux.sinks.venus_config import VenusConfig
from sinks.venus_dbus_helpers import wait_name as _wait_name
from sinks.venus_states import GOLDEN_SERVICE, bank_state, high_cell_state, stale

NAME = "com.victronenergy.battery.bank"
SIGNATURE = {int: "i", float: "d", str: "s", type(None): "ai"}


def cfg(**kw: object) -> VenusConfig:
    return VenusConfig.model_validate({"battery": "bank", "device_instance": 100, **kw})


async def test_every_path_with_its_value_and_type(dbus_address: str, monitor) -> None:
    service = VenusService(cfg(), dbus_address)
    await service.update(bank_state())
    assert service.registered
    await monitor.scan(NAME)
    items = monitor.items[NAME]
    assert set(items) == set(GOLDEN_SERVICE)
    for path, expected in GOLDEN_SERVICE.items():
        assert items[path].signature == SIGNATURE[type(expected)], path
        assert monitor.value(NAME, path) == expected, path
    await service.close()


async def test_busitem_contract(dbus_address: str, monitor) -> None:
    service = VenusService(cfg(), dbus_address)
    await service.update(bank_state())
    call = monitor.call

    reply = await call(NAME, "/Dc/0/Voltage", "GetValue")
    assert reply.signature == "v" and reply.body[0] == Variant("d", 26.42)
    assert (await call(NAME, "/Dc/0/Voltage", "GetText")).body == ["26.42V"]
    assert (await call(NAME, "/ProductId", "GetText")).body == ["0xFFFF"]
    assert (await call(NAME, "/HardwareVersion", "GetText")).body == ["---"]
    desc = await call(NAME, "/Soc", "GetDescription", "si", ["en", 0])
    assert desc.body == ["/Soc (%)"]

    # Intermediate nodes and the root return their subtree, with relative keys.
    node = (await call(NAME, "/Dc", "GetValue")).body[0]
    assert node.signature == "a{sv}"
    assert node.value["0/Current"] == Variant("d", -12.5)
    root = (await call(NAME, "/", "GetValue")).body[0].value
    assert root["Soc"] == Variant("d", 64.0) and len(root) == len(GOLDEN_SERVICE)
    texts = (await call(NAME, "/Info", "GetText")).body[0].value
    assert texts["MaxChargeVoltage"] == "28.4V"

    # Writes: read-only → 1; a wrong type → 1 and counted; the right type → 0, and it shows.
    assert (await call(NAME, "/Soc", "SetValue", "v", [Variant("d", 1.0)])).body == [1]
    assert (await call(NAME, "/CustomName", "SetValue", "v", [Variant("i", 5)])).body == [1]
    assert service.rejected_writes == 1 and service.readonly_writes == 1
    ok = await call(NAME, "/CustomName", "SetValue", "v", [Variant("s", "Shed bank")])
    assert ok.body == [0]
    assert (await call(NAME, "/CustomName", "GetValue")).body == [Variant("s", "Shed bank")]
    assert (await call(NAME, "/Soc", "GetValue")).body == [Variant("d", 64.0)]

    # An unknown path is an error, not a crash.
    bad = await call(NAME, "/No/Such/Path", "GetValue")
    assert bad.message_type is MessageType.ERROR
    intro = await call(NAME, "/Dc", "Introspect", interface="org.freedesktop.DBus.Introspectable")
    assert '<node name="0"/>' in intro.body[0]
    await service.close()


async def test_name_requested_only_with_all_paths(dbus_address: str, monitor) -> None:
    """Not on the bus before fresh data; once on, GetItems already has every path."""
    service = VenusService(cfg(), dbus_address)
    await service.update(stale(bank_state()))
    assert not service.registered
    names = await monitor.call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "ListNames",
        interface="org.freedesktop.DBus",
    )
    assert NAME not in names.body[0]
    await service.update(bank_state())
    await monitor.scan(NAME)
    assert set(monitor.items[NAME]) == set(GOLDEN_SERVICE)
    await service.close()


async def test_limits_follow_a_high_cell_in_one_batch(dbus_address: str, monitor) -> None:
    hub = StateHub()
    hub.publish([bank_state()])
    task = asyncio.create_task(run_venus([cfg()], hub, dbus_address))
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)
    assert monitor.value(NAME, "/Info/MaxChargeCurrent") == 100.0

    hub.publish([high_cell_state()])
    await monitor.wait_for(lambda: monitor.items_changed)
    assert monitor.value(NAME, "/Info/MaxChargeCurrent") == 0.0
    assert monitor.value(NAME, "/Info/MaxChargeVoltage") == 27.8
    assert monitor.value(NAME, "/Alarms/HighCellVoltage") == 2
    assert monitor.value(NAME, "/System/NrOfModulesBlockingCharge") == 1
    await asyncio.sleep(0.1)
    # One publish → exactly one ItemsChanged, carrying only what changed.
    assert len(monitor.items_changed) == 1
    changed = monitor.items_changed[0][1]
    assert "/Soc" not in changed and "/Voltages/Cell4" in changed
    assert monitor.props_changed == []  # velib's batch: ItemsChanged only
    # The signal's bytes are batmux's own (links.items_changed): what a consumer reads from it
    # is what GetItems (dbus-fast's marshalling) answers, value type and text included.
    items = (await monitor.call(NAME, "/", "GetItems")).body[0]
    for path, item in changed.items():
        assert set(item) == {"Value", "Text"}, path
        assert item["Value"].signature == items[path]["Value"].signature, path
        assert item["Value"].value == items[path]["Value"].value, path
        assert item["Text"].value == items[path]["Text"].value, path
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_signals_per_publish_as_velib_sends_them(dbus_address: str, monitor) -> None:
    """velib (vedbus.py): values set inside ``with service as ctx:`` go out as one ItemsChanged
    and no PropertiesChanged; a SetValue from the bus is one PropertiesChanged. Counted on a real
    dbus-daemon: a consumer that listens to both (dbusmonitor) hears each change once."""
    service = VenusService(cfg(), dbus_address)
    await service.update(bank_state())
    await monitor.scan(NAME)
    before = dict(monitor.items[NAME])

    await service.update(high_cell_state())
    await monitor.wait_for(lambda: monitor.items_changed)
    await asyncio.sleep(0.2)  # anything else sent for this publish has arrived by now
    changed = {p for p, v in service.values().items() if before.get(p) != wrap(v)}
    assert len(changed) >= 10  # limits, alarms, cells, state: a real batch
    assert len(monitor.items_changed) == 1 and set(monitor.items_changed[0][1]) == changed
    assert monitor.props_changed == []
    signals_per_publish = len(monitor.items_changed) + len(monitor.props_changed)
    # Before: 1 + one per changed path (12 for this publish, measured on a real dbus-daemon).
    assert signals_per_publish == 1

    ok = await monitor.call(NAME, "/CustomName", "SetValue", "v", [Variant("s", "Shed")])
    assert ok.body == [0]
    await monitor.wait_for(lambda: monitor.props_changed)
    await asyncio.sleep(0.1)
    assert monitor.props_changed == [(NAME, "/CustomName")]
    assert len(monitor.items_changed) == 1  # no batch for a single write
    assert (service.items_changed_sent, service.properties_changed_sent) == (1, 1)
    await service.close()


async def _root(monitor, name: str) -> dict[str, Variant]:
    """Every path's value as the service answers GetValue on ``/`` (keys made absolute)."""
    body = (await monitor.call(name, "/", "GetValue")).body[0].value
    return {f"/{key}": value for key, value in body.items()}


async def test_one_items_changed_per_publish_round_with_only_the_changed_paths(
    dbus_address: str, monitor
) -> None:
    """Through the sink's own hub loop, round after round: a publish that changes k paths is
    one ItemsChanged carrying exactly those k paths, and a publish that changes nothing sends
    nothing (velib's ``with service as ctx:`` batch; issue 17's Venus CPU target)."""
    hub = StateHub()
    hub.publish([bank_state()])
    task = asyncio.create_task(run_venus([cfg()], hub, dbus_address))
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)

    base = bank_state()
    assert base.sample is not None
    one_value = dataclasses.replace(base, sample=base.sample.with_(voltage_v=26.45))
    rounds = [
        ("voltage only", one_value),
        ("same state again", one_value),
        ("a high cell", high_cell_state()),
        ("back to the bank", base),
    ]
    payloads: dict[str, set[str]] = {}
    for label, state in rounds:
        before = await _root(monitor, NAME)
        sent = len(monitor.items_changed)
        hub.publish([state])
        await asyncio.sleep(0.3)  # the publish and anything it would send have arrived
        after = await _root(monitor, NAME)
        changed = {path for path, value in after.items() if before.get(path) != value}
        new = monitor.items_changed[sent:]
        if not changed:
            assert new == [], label
            continue
        assert len(new) == 1, label
        assert set(new[0][1]) == changed, label
        payloads[label] = set(new[0][1])
    assert monitor.props_changed == []
    assert "same state again" not in payloads  # nothing changed, nothing sent
    assert "/Dc/0/Voltage" in payloads["voltage only"]
    assert "/Soc" not in payloads["voltage only"] | payloads["a high cell"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_stale_disconnects_then_disappears_then_returns(dbus_address: str, monitor) -> None:
    hub = StateHub()
    hub.publish([bank_state()])
    conf = cfg(disconnect_timeout=0.6)
    task = asyncio.create_task(run_venus([conf], hub, dbus_address))
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)

    started = time.monotonic()
    hub.publish([stale(bank_state())])
    await monitor.wait_for(lambda: monitor.items_changed)
    assert monitor.value(NAME, "/Connected") == 0
    assert monitor.value(NAME, "/Info/MaxDischargeCurrent") == 0.0
    assert monitor.value(NAME, "/Info/MaxChargeCurrent") == 0.0
    await monitor.wait_for(lambda: NAME not in monitor.items, timeout=3.0)
    gone_after = time.monotonic() - started
    assert 0.6 <= gone_after < 1.5, gone_after

    hub.publish([bank_state()])  # data returns → the service comes back
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)
    assert monitor.value(NAME, "/Connected") == 1
    assert monitor.value(NAME, "/Info/MaxChargeCurrent") == 100.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_hub_silence_counts_as_stale(dbus_address: str, monitor) -> None:
    """If nothing is published for stale_after, the last state is not trusted."""
    hub = StateHub()
    hub.publish([bank_state()])
    conf = cfg(stale_after=0.3, disconnect_timeout=10)
    task = asyncio.create_task(run_venus([conf], hub, dbus_address))
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)
    # ItemsChanged comes after the PropertiesChanged of the same batch: all of it has arrived.
    await monitor.wait_for(lambda: monitor.items_changed, timeout=2.0)
    assert monitor.value(NAME, "/Connected") == 0
    assert monitor.value(NAME, "/Info/MaxChargeCurrent") == 0.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_two_services_one_bms(dbus_address: str, monitor) -> None:
    a = VenusService(cfg(), dbus_address)
    b = VenusService(cfg(battery="pack_a", device_instance=101, is_bms=False), dbus_address)
    await a.update(bank_state())
    await b.update(bank_state())
    await monitor.scan(NAME)
    await monitor.scan("com.victronenergy.battery.pack_a")
    assert monitor.value(NAME, "/Info/MaxChargeVoltage") == 28.4
    assert not [p for p in monitor.items["com.victronenergy.battery.pack_a"] if "/Info/" in p]
    await a.close()
    await b.close()


async def test_name_taken_is_not_a_crash(dbus_address: str) -> None:
    squatter = await MessageBus(bus_address=dbus_address).connect()
    await squatter.request_name(NAME)
    service = VenusService(cfg(), dbus_address)
    await service.update(bank_state())
    assert not service.registered and service.register_failures == 1
    squatter.disconnect()
    await asyncio.sleep(0.05)
    await service.tick()
    assert service.registered
    await service.close()


async def test_gateway_sink_adapter(dbus_address: str, monitor, monkeypatch, tmp_path) -> None:
    """venus_sink(gateway) serves config.venus from gateway.hub (system bus via the env var)."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", dbus_address)
    config = parse_config(
        {
            "batteries": [{"name": "bank", "type": "jk"}],
            "venus": [{"battery": "bank", "device_instance": 100}],
            "state_dir": str(tmp_path),
        }
    )
    hub = StateHub()
    hub.publish([bank_state()])
    task = asyncio.create_task(venus_sink(SimpleNamespace(config=config, hub=hub)))
    await _wait_name(monitor, NAME)
    await monitor.scan(NAME)
    assert monitor.value(NAME, "/DeviceInstance") == 100
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await monitor.wait_for(lambda: NAME not in monitor.items)  # cancelled → leaves the bus
