"""OpenDTU's REST dialect (tbnobody/OpenDTU ``src/WebApi_ws_live.cpp``, ``WebApi_power.cpp``,
``WebApi_limit.cpp``; homebattery's OpenDTU adapter).

Read: GET ``/api/livedata/status?inv=<serial>`` → ``inverters[]`` with ``serial``,
``reachable``, ``producing``, ``limit_relative`` (%), and (only when asked for one serial)
``AC["0"]["Power"]["v"]`` in W. Control: POST ``/api/power/config`` or ``/api/limit/config``
as a form with one field ``data`` = JSON (``serial`` as a string; ``power``/``restart`` booleans;
``limit_type`` 1 = relative non-persistent, ``limit_value`` %), HTTP basic auth (user ``admin``).
Success = ``{"type": "success"}``.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from batmux.netzero.devices.dtu import DtuReading
from batmux.netzero.devices.http import DeviceError, base_url, number, request_json

LIMIT_RELATIVE_NON_PERSISTENT = 1


class OpenDtuTransport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        serial: str,
        *,
        username: str = "admin",
        password: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.session = session
        self.url = base_url(url)
        self.serial = serial
        # OpenDTU wants HTTP basic auth for control (reading is allowed without by default).
        self.headers = (
            {"Authorization": aiohttp.encode_basic_auth(username, password)}
            if password is not None
            else {}
        )
        self.timeout_s = timeout_s

    async def read(self) -> DtuReading:
        url = f"{self.url}/api/livedata/status?inv={self.serial}"
        data = await request_json(
            self.session, "GET", url, timeout_s=self.timeout_s, headers=self.headers
        )
        return parse_status(data, self.serial, url)

    async def power(self, on: bool) -> None:
        await self._post("/api/power/config", {"serial": self.serial, "power": on})

    async def restart(self) -> None:
        await self._post("/api/power/config", {"serial": self.serial, "restart": True})

    async def limit(self, percent: float) -> None:
        body = {
            "serial": self.serial,
            "limit_type": LIMIT_RELATIVE_NON_PERSISTENT,
            "limit_value": round(percent, 1),
        }
        await self._post("/api/limit/config", body)

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        text = json.dumps(body, separators=(",", ":"))
        data = await request_json(
            self.session,
            "POST",
            f"{self.url}{path}",
            timeout_s=self.timeout_s,
            data={"data": text},
            headers=self.headers,
        )
        if not (isinstance(data, dict) and data.get("type") == "success"):
            why = data.get("message", data) if isinstance(data, dict) else data
            raise DeviceError(f"OpenDTU refused {path} {text}: {why}")


def parse_status(data: Any, serial: str, where: str = "OpenDTU") -> DtuReading:
    """Our inverter's entry of a ``/api/livedata/status`` answer."""
    try:
        entries = [e for e in data["inverters"] if str(e["serial"]).lower() == serial.lower()]
    except (KeyError, TypeError) as exc:
        raise DeviceError(f"{where}: no inverters list: {exc}") from None
    if not entries:
        raise DeviceError(f"{where}: inverter {serial} is not on this DTU")
    entry = entries[0]
    try:
        reachable, producing = entry["reachable"], entry["producing"]
        limit = number(entry["limit_relative"], "limit_relative")
        ac = entry.get("AC", {}).get("0", {}).get("Power")
        power = number(ac["v"], "AC.0.Power.v") if ac is not None else None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DeviceError(f"{where}: field missing: {exc}") from None
    if not isinstance(reachable, bool) or not isinstance(producing, bool):
        raise DeviceError(f"{where}: reachable/producing are not booleans")
    if not reachable:
        return DtuReading(None, limit, power, offline=True)
    return DtuReading(producing, limit, power)
