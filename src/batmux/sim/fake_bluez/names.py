"""The org.bluez names the fake answers with, and the D-Bus types its interfaces declare."""

from typing import Annotated

from dbus_fast import Variant
from dbus_fast.annotations import DBusSignature

# D-Bus signatures of the property/method types dbus-fast reads from the annotations
StrList = Annotated[list[str], DBusSignature("as")]
PathList = Annotated[list[str], DBusSignature("ao")]
ManufacturerMap = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
HandleAndMtu = Annotated[list[int], DBusSignature("hq")]  # AcquireNotify/AcquireWrite reply

BLUEZ = "org.bluez"
ERR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERR_NOT_READY = "org.bluez.Error.NotReady"
ERR_FAILED = "org.bluez.Error.Failed"
ERR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
ERR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
