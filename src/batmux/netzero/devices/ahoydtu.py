"""AhoyDTU's REST dialect (lumapu/ahoy ``src/web/RestApi.h``; homebattery's ahoydtuadapter).

Read: GET ``/api/inverter/id/<id>`` → ``status`` (0 off/not available, 1 starting, 2 producing,
3 was producing, 4 was on; homebattery maps 0 and 4 to fault, 1 and 3 to off, 2 to on),
``power_limit_read`` (%), and ``ch[0]`` the AC channel whose third value is P_AC in W
(``acList`` = U_AC, I_AC, P_AC, F, PF, T, YieldTotal, YieldDay, P_DC, Efficiency, Q, ...).
Control: POST ``/api/ctrl`` with a text/plain JSON body; success = ``{"success": true}``.
With an admin password set, AhoyDTU answers ``ERR_PROTECTED`` until the client logs in with
``{"auth": "<password>"}`` (answer: a 16-character ``token``, bound to the client's IP, dropped
after a logout timeout) and adds ``"token"`` to every control body (``src/web/Protection.h``).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from batmux.netzero.devices.dtu import DtuReading
from batmux.netzero.devices.http import DeviceError, base_url, number, request_json

AC_POWER_INDEX = 2  # P_AC in the AC channel list
_ON = {2}
_OFF = {1, 3}
_FAULT = {0: "AhoyDTU status 0 (inverter not available)", 4: "AhoyDTU status 4 (was on)"}


class AhoyDtuTransport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        inverter_id: int,
        timeout_s: float = 5.0,
        password: str | None = None,
    ) -> None:
        self.session = session
        self.url = base_url(url)
        self.id = inverter_id
        self.timeout_s = timeout_s
        self.password = password
        self._token: str | None = None

    async def read(self) -> DtuReading:
        url = f"{self.url}/api/inverter/id/{self.id}"
        data = await request_json(self.session, "GET", url, timeout_s=self.timeout_s)
        return parse_inverter(data, url)

    async def power(self, on: bool) -> None:
        await self._ctrl({"id": self.id, "cmd": "power", "val": 1 if on else 0})

    async def restart(self) -> None:
        await self._ctrl({"id": self.id, "cmd": "restart"})

    async def limit(self, percent: float) -> None:
        val: float = round(percent, 1)
        val = int(val) if val.is_integer() else val
        await self._ctrl({"id": self.id, "cmd": "limit_nonpersistent_relative", "val": val})

    async def _post(self, body: dict[str, Any]) -> Any:
        text = json.dumps(body, separators=(",", ":"))
        return await request_json(
            self.session,
            "POST",
            f"{self.url}/api/ctrl",
            timeout_s=self.timeout_s,
            data=text.encode(),
            headers={"Content-Type": "text/plain"},
        )

    async def _ctrl(self, body: dict[str, Any]) -> None:
        if self.password is not None:
            if self._token is None:
                await self._login()
            body = {**body, "token": self._token}
        data = await self._post(body)
        if not (isinstance(data, dict) and data.get("success") is True):
            why = data.get("error", data) if isinstance(data, dict) else data
            if why == "ERR_PROTECTED":
                self._token = None  # logged out (timeout, reboot): log in on the next attempt
            shown = {k: v for k, v in body.items() if k != "token"}
            raise DeviceError(f"AhoyDTU refused {json.dumps(shown, separators=(',', ':'))}: {why}")

    async def _login(self) -> None:
        data = await self._post({"auth": self.password})
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            why = data.get("error", data) if isinstance(data, dict) else data
            raise DeviceError(f"AhoyDTU login refused: {why}")
        self._token = token


def parse_inverter(data: Any, where: str = "AhoyDTU") -> DtuReading:
    """The fields of one ``/api/inverter/id/<id>`` answer that the loop needs."""
    if not isinstance(data, dict):
        raise DeviceError(f"{where}: expected a JSON object")
    if "error" in data:
        raise DeviceError(f"{where}: {data['error']}")
    try:
        status = int(number(data["status"], "status"))
        limit = number(data["power_limit_read"], "power_limit_read")
        power = number(data["ch"][0][AC_POWER_INDEX], "ch[0][2] (P_AC)")
    except (KeyError, IndexError, TypeError) as exc:
        raise DeviceError(f"{where}: field missing: {exc}") from None
    if status in _FAULT:
        return DtuReading(None, limit, power, fault=_FAULT[status])
    if status not in _ON | _OFF:
        return DtuReading(None, limit, power, fault=f"AhoyDTU status {status} unknown")
    return DtuReading(status in _ON, limit, power)
