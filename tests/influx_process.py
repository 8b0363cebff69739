"""A real InfluxDB 1.x server (Debian's ``influxd``) on a free loopback port, data in a temp dir.

Reporting and usage statistics are off, every listener is on loopback, the internal monitor
database is off so the only writes are the test's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker_process import free_port

CONF = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[continuous_queries]
  enabled = false
"""


def influxd_binary() -> str | None:
    return shutil.which("influxd") or next(
        (p for p in ("/usr/bin/influxd", "/usr/sbin/influxd") if Path(p).exists()), None
    )


@dataclass
class Influxd:
    binary: str
    root: Path
    port: int
    rpc_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "influxdb.conf"
        conf.write_text(CONF.format(root=self.root, port=self.port, rpc_port=self.rpc_port))
        log = open(self.root / "influxd.log", "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [self.binary, "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                    if response.status == 204:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"influxd did not answer on {self.url}: see {self.root}/influxd.log")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def query(self, q: str, db: str | None = None) -> dict[str, Any]:
        """An InfluxQL statement over HTTP (POST, so CREATE/DROP work too)."""
        params = {"q": q, "epoch": "ms", **({"db": db} if db else {})}
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=data, timeout=10) as response:
            return json.loads(response.read())

    def rows(self, q: str, db: str) -> list[dict[str, Any]]:
        """The first series of a SELECT as dicts (column → value)."""
        result = self.query(q, db)["results"][0]
        series = result.get("series") or []
        if not series:
            return []
        columns = series[0]["columns"]
        return [dict(zip(columns, values, strict=True)) for values in series[0]["values"]]


def start_influxd(root: Path) -> Influxd | None:
    binary = influxd_binary()
    if binary is None:
        return None
    server = Influxd(binary, root, free_port(), free_port())
    server.start()
    return server
