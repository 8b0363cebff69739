"""The simulated localsettings, called over a private dbus-daemon the way drivers call it."""

from __future__ import annotations

from dbus_fast import MessageType, Variant

from batmux.sim.venus_settings import SimLocalSettings

SETTINGS = "com.victronenergy.settings"
IFACE = "com.victronenergy.Settings"


async def _add(monitor, path: str, group: str, name: str, default: Variant, kind: str) -> int:
    body = [group, name, default, kind, Variant("i", 0), Variant("i", 0)]
    reply = await monitor.call(SETTINGS, path, "AddSetting", "ssvsvv", body, IFACE)
    assert reply.message_type is MessageType.METHOD_RETURN, reply.body
    return reply.body[0]


async def _value(monitor, path: str) -> object:
    reply = await monitor.call(SETTINGS, path, "GetValue")
    assert reply.message_type is MessageType.METHOD_RETURN, reply.body
    return reply.body[0].value


async def test_add_setting_allocates_per_class(dbus_address, monitor) -> None:
    sim = await SimLocalSettings().start(dbus_address)
    # velib's form (on /Settings, group "") and the group form on "/" land in the same tree.
    a = "Devices/a/ClassAndVrmInstance"
    assert await _add(monitor, "/Settings", "", a, Variant("s", "battery:1"), "s") == 0
    b = ("Settings/Devices/b", "ClassAndVrmInstance")
    assert await _add(monitor, "/", *b, Variant("s", "battery:1"), "s") == 0
    c = ("Devices/c", "ClassAndVrmInstance")
    assert await _add(monitor, "/Settings", *c, Variant("s", "battery:1"), "s") == 0
    d = ("Devices/d", "ClassAndVrmInstance")
    assert await _add(monitor, "/Settings", *d, Variant("s", "tank:1"), "s") == 0
    assert await _value(monitor, "/Settings/Devices/a/ClassAndVrmInstance") == "battery:1"
    assert await _value(monitor, "/Settings/Devices/b/ClassAndVrmInstance") == "battery:2"
    assert await _value(monitor, "/Settings/Devices/c/ClassAndVrmInstance") == "battery:3"
    assert await _value(monitor, "/Settings/Devices/d/ClassAndVrmInstance") == "tank:1"
    # Adding again keeps the value, even with another default.
    assert await _add(monitor, "/Settings", "", a, Variant("s", "battery:9"), "s") == 0
    assert sim.value("/Settings/Devices/a/ClassAndVrmInstance") == "battery:1"
    await sim.stop()


async def test_add_settings_readme_example(dbus_address, monitor) -> None:
    sim = await SimLocalSettings().start(dbus_address)
    entries = [
        {"path": Variant("s", "a/ClassAndVrmInstance"), "default": Variant("s", "battery:1")},
        {"path": Variant("s", "b/ClassAndVrmInstance"), "default": Variant("s", "battery:1")},
        {
            "path": Variant("s", "Brightness"),
            "default": Variant("i", 5),
            "min": Variant("i", 0),
            "max": Variant("i", 10),
        },
    ]
    sim.add("/Settings/Devices/x", 0, "i")  # makes /Settings/Devices a group
    devices = "/Settings/Devices"
    reply = await monitor.call(SETTINGS, devices, "AddSettings", "aa{sv}", [entries], IFACE)
    assert reply.signature == "aa{sv}"
    got = [{k: v.value for k, v in r.items()} for r in reply.body[0]]
    assert got == [
        {"error": 0, "path": "a/ClassAndVrmInstance", "value": "battery:1"},
        {"error": 0, "path": "b/ClassAndVrmInstance", "value": "battery:2"},
        {"error": 0, "path": "Brightness", "value": 5},
    ]
    assert reply.body[0][1]["value"].signature == "s" and reply.body[0][2]["value"].signature == "i"
    assert sim.settings["/Settings/Devices/Brightness"].maximum == 10
    await sim.stop()


async def test_errors(dbus_address, monitor) -> None:
    sim = await SimLocalSettings().start(dbus_address)
    assert await _add(monitor, "/Settings", "X", "_Hidden", Variant("i", 1), "i") == -2
    assert await _add(monitor, "/Settings", "X", "Y", Variant("i", 1), "b") == -3
    assert await _add(monitor, "/Settings", "X", "Y", Variant("s", "abc"), "i") == -4
    assert await _add(monitor, "/Settings", "X", "Y", Variant("i", 1), "i") == 0
    assert await _add(monitor, "/Settings", "X", "Y", Variant("s", "1"), "s") == -5
    assert await _add(monitor, "/Settings/X/Y", "", "Z", Variant("i", 1), "i") == -1
    # An object that does not exist: an error reply, as from any D-Bus service.
    reply = await monitor.call(SETTINGS, "/Settings/Nope/Deeper", "GetValue")
    assert reply.message_type is MessageType.ERROR
    entries = [{"path": Variant("s", "/Settings/Bad"), "default": Variant("ai", [])}]
    reply = await monitor.call(SETTINGS, "/", "AddSettings", "aa{sv}", [entries], IFACE)
    assert reply.body[0][0]["error"].value == -3 and "value" not in reply.body[0][0]
    await sim.stop()


async def test_busitem_side_and_restart(dbus_address, monitor) -> None:
    sim = SimLocalSettings()
    sim.add("/Settings/Devices/a/ClassAndVrmInstance", "battery:1", "s")
    sim.add("/Settings/Devices/b/ClassAndVrmInstance", "battery:2", "s")
    sim.add("/Settings/Gui/Brightness", 5, "i", 0, 10)
    await sim.start(dbus_address)
    await monitor.scan(SETTINGS)  # GetItems on "/", as dbusmonitor does
    assert monitor.value(SETTINGS, "/Settings/Gui/Brightness") == 5
    tree = await _value(monitor, "/Settings/Devices")
    assert {k: v.value for k, v in tree.items()} == {
        "a/ClassAndVrmInstance": "battery:1",
        "b/ClassAndVrmInstance": "battery:2",
    }
    text = await monitor.call(SETTINGS, "/Settings/Gui/Brightness", "GetText")
    assert text.body == ["5"]

    async def set_value(path: str, value: Variant) -> int:
        return (await monitor.call(SETTINGS, path, "SetValue", "v", [value])).body[0]

    assert await set_value("/Settings/Gui/Brightness", Variant("i", 11)) == -1  # above max
    assert await set_value("/Settings/Gui/Brightness", Variant("i", 7)) == 0
    await monitor.wait_for(lambda: monitor.value(SETTINGS, "/Settings/Gui/Brightness") == 7)
    held = Variant("s", "battery:2")  # b holds it
    assert await set_value("/Settings/Devices/a/ClassAndVrmInstance", held) == -1
    free = Variant("s", "battery:5")
    assert await set_value("/Settings/Devices/a/ClassAndVrmInstance", free) == 0

    await sim.stop()  # the table outlives a restart of the service
    await sim.start(dbus_address)
    assert await _value(monitor, "/Settings/Devices/a/ClassAndVrmInstance") == "battery:5"
    await sim.stop()
