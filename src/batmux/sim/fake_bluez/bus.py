"""A private ``dbus-daemon`` that lets anyone own ``org.bluez``: for tests and for running the
gateway against simulated devices."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
    """Start ``dbus-daemon`` on a socket in ``directory`` with a policy that lets anyone own
    ``org.bluez``; return the process and its address (FileNotFoundError without dbus-daemon)."""
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
