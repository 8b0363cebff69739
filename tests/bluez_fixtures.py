"""Fixtures: a private D-Bus daemon that stands in for the system bus, and a fake BlueZ on it.

``bluez_bus`` (session scope) starts ``dbus-daemon --nofork --print-address`` with a config that
lets anyone own ``org.bluez`` and points ``DBUS_SYSTEM_BUS_ADDRESS`` at it, so bleak's BlueZ
backend (which always talks to the *system* bus) reaches the fake. ``fake_bluez`` (per test)
serves ``FakeBlueZ`` with one adapter, hci0, on that bus (bleak picks the default adapter from
an unordered set, so tests that need a second adapter build ``FakeBlueZ(bluez_bus, ("hci0",
"hci1"))`` themselves and name the adapter). Both skip when dbus-daemon is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from batmux.sim.fake_bluez import FakeBlueZ

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def start_private_bus(directory: Path) -> tuple[subprocess.Popen[str], str]:
    """Start a private dbus-daemon in ``directory``; return the process and its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise FileNotFoundError("dbus-daemon")
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=directory / "bus.sock"))
    proc = subprocess.Popen(
        [daemon, "--nofork", "--nopidfile", "--print-address", f"--config-file={config}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains about fd limits when not started as a service
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return proc, address


@pytest.fixture(scope="session")
def bluez_bus() -> Iterator[str]:
    """Address of a private bus that bleak uses as the system bus for this test session."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (apt install dbus)")
    with tempfile.TemporaryDirectory(prefix="batmux-bus-") as tmp:
        proc, address = start_private_bus(Path(tmp))
        saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        try:
            yield address
        finally:
            if saved is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
async def fake_bluez(bluez_bus: str) -> AsyncIterator[FakeBlueZ]:
    """A fake BlueZ with adapter hci0 and no devices yet (add them with ``add_device``)."""
    fake = FakeBlueZ(bus_address=bluez_bus)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
