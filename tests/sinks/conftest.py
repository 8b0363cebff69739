"""A private dbus-daemon per test, and a client that watches services the way dbusmonitor does."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sinks.venus_dbus_helpers import Monitor

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def dbus_address() -> Iterator[str]:
    """Start a private dbus-daemon; yield its address."""
    exe = shutil.which("dbus-daemon")
    if exe is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus)")
    # A short directory: unix socket paths are limited to ~108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="bmdbus"))
    config = workdir / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=workdir / "bus"))
    proc = subprocess.Popen(
        [exe, "--config-file", str(config), "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def monitor(dbus_address: str) -> Any:
    mon = await Monitor.start(dbus_address)
    yield mon
    await mon.close()
