"""The fake BlueZ fixtures for the BLE link tests (the root conftest may import them instead)."""

from bluez_fixtures import bluez_bus, fake_bluez  # noqa: F401
