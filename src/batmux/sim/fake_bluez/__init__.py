"""A BlueZ look-alike on D-Bus that serves ``SimDevice`` objects to the real bleak stack.

It owns ``org.bluez`` on a (private) bus and exports what bleak's BlueZ backend reads:
``/org/bluez/hciN`` (Adapter1), ``/org/bluez/hciN/dev_XX_..`` (Device1) and, while connected,
``.../serviceXXXX`` (GattService1) and ``.../serviceXXXX/charYYYY`` (GattCharacteristic1).
dbus-fast answers ``ObjectManager.GetManagedObjects`` and sends InterfacesAdded/Removed on
export/unexport. Notifications are PropertiesChanged of a characteristic's ``Value``, one per
MTU-sized chunk, exactly how bluetoothd forwards them after StartNotify; AcquireNotify and
AcquireWrite hand out a SOCK_SEQPACKET socket instead, one packet per notification or write.

Behaviour copied from bluetoothd because bleak and bleak-retry-connector depend on it:
devices appear (InterfacesAdded) only once an adapter discovers them; a discovering adapter
sends an RSSI PropertiesChanged per advertisement; one D-Bus client may hold only one discovery
session per adapter (a second StartDiscovery gets ``org.bluez.Error.InProgress``); calls to
objects that do not exist get ``UnknownObject``; Connect emits ``Connected`` then the GATT
objects then ``ServicesResolved``.

Faults a test (or a demo) can cause at any moment: ``vanish`` (the device goes away; its object
is removed like bluetoothd does after the discovery cache expires, or kept when it merely went
out of range), ``reappear``, ``drop`` (link lost, ``Connected=false``), ``drop_after_chunks``
(lost in the middle of a frame), ``mute`` (connected but never answers), ``chunk_gap_s``
(slow notifications) and ``corrupt_rate``.

The package, one job a module: ``device`` (a simulated peripheral, its fault knobs, its exported
objects), ``layout`` (its GATT table: several characteristics, each with its own flags),
``names`` (org.bluez names and D-Bus types), ``adapter``/``device_iface``/``gatt`` (the
D-Bus interfaces), then ``FakeBlueZ`` built in layers: ``state`` (what every layer shares),
``discovery``, ``connections``, ``notify`` (data and its faults), ``acquire`` (the socket
path) and ``service`` (lifecycle,
routing and the scenario API). ``bus`` starts a private dbus-daemon; ``__main__`` is the tool.
"""
