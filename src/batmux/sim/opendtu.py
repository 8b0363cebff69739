"""An OpenDTU's REST API around ``HoymilesModel`` inverters keyed by serial (shape from
tbnobody/OpenDTU ``src/WebApi_ws_live.cpp``, ``WebApi_power.cpp``, ``WebApi_limit.cpp``,
``WebApi.cpp``).

GET ``/api/livedata/status`` lists every inverter's common fields (``serial``, ``reachable``,
``producing``, ``limit_relative``, ``limit_absolute`` ...); with ``?inv=<serial>`` only that
inverter, with its ``AC``/``DC``/``INV`` channels (``{"0": {"Power": {"v", "u", "d"}}}``).
Reading needs no login (OpenDTU's default "allow read-only"); POST ``/api/power/config`` and
``/api/limit/config`` need HTTP basic auth ``admin``:password and a form field ``data`` with
JSON; they answer ``{"type": "success"|"warning", "message", "code"}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from batmux.netzero.ports import Clock
from batmux.sim.hoymiles import HoymilesModel
from batmux.sim.http_device import HttpDeviceSim

LIMIT_TYPES = (0, 1, 256, 257)  # absolute/relative non-persistent, absolute/relative persistent


def _same_serial(a: str, b: str) -> bool:
    """OpenDTU reads serials as hex numbers (strtoll base 16); junk matches nothing."""
    try:
        return int(a, 16) == int(b, 16) != 0
    except ValueError:
        return False


def _field(value: float, unit: str, digits: int) -> dict[str, Any]:
    return {"v": value, "u": unit, "d": digits}


class OpenDtuSim(HttpDeviceSim):
    def __init__(
        self,
        models: dict[str, HoymilesModel],
        clock: Clock | None = None,
        password: str = "openDTU42",
    ) -> None:
        super().__init__(clock)
        self.models = models
        self.password = password
        self.refuse_next = 0
        self.stuck_off: set[str] = set()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/livedata/status", self._status)
        app.router.add_post("/api/power/config", self._power)
        app.router.add_post("/api/limit/config", self._limit)

    def common_json(self, serial: str) -> dict[str, Any]:
        model = self.models[serial]
        model.tick(self.clock.now())
        return {
            "serial": serial,
            "name": f"HM-{int(model.max_power_w)}",
            "order": 0,
            "data_age": 3,
            "data_age_ms": 3120,
            "poll_enabled": True,
            "reachable": model.reachable,
            "producing": model.producing and model.reachable,
            "limit_relative": round(model.limit_percent, 2),
            "limit_absolute": round(model.limit_percent * model.max_power_w / 100, 2),
            "radio_stats": {
                "tx_request": 10,
                "tx_re_request": 0,
                "rx_success": 10,
                "rx_fail_nothing": 0,
                "rx_fail_partial": 0,
                "rx_fail_corrupt": 0,
                "rssi": -62,
            },
        }

    def channels_json(self, serial: str) -> dict[str, Any]:
        model = self.models[serial]
        p_ac = model.reported_power_w(self.clock.now())
        p_dc = round(p_ac / 0.955, 1) if p_ac else 0.0
        return {
            "AC": {
                "0": {
                    "Power": _field(p_ac, "W", 1),
                    "Voltage": _field(230.1, "V", 1),
                    "Current": _field(round(p_ac / 230.1, 2), "A", 2),
                    "Frequency": _field(50.0, "Hz", 2),
                }
            },
            "DC": {
                "0": {
                    "name": {"u": "PV1"},
                    "Power": _field(p_dc, "W", 1),
                    "Voltage": _field(33.1, "V", 1),
                }
            },
            "INV": {
                "0": {
                    "Power DC": _field(p_dc, "W", 1),
                    "YieldDay": _field(512, "Wh", 0),
                    "Temperature": _field(31.2, "°C", 1),
                }
            },
            "events": 0,
        }

    async def _status(self, request: web.Request) -> web.Response:
        wanted = request.query.get("inv")
        inverters = []
        for serial in self.models:
            if wanted is None:
                inverters.append(self.common_json(serial))
            elif _same_serial(wanted, serial):
                inverters.append(self.common_json(serial) | self.channels_json(serial))
        total = sum(m.reported_power_w(self.clock.now()) for m in self.models.values())
        return web.json_response(
            {
                "inverters": inverters,
                "total": {"Power": _field(round(total, 1), "W", 0)},
                "hints": {"time_sync": False, "radio_problem": False, "default_password": False},
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"admin:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _parse(self, request: web.Request) -> dict[str, Any] | web.Response:
        if not self._authorized(request):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="Login Required"'})
        form = await request.post()
        if "data" not in form:
            return self._answer("warning", "No values found!", 1002)
        try:
            data = json.loads(str(form["data"]))
        except ValueError:
            return self._answer("warning", "Failed to parse data!", 1003)
        if not isinstance(data, dict) or not isinstance(data.get("serial"), str):
            return self._answer("warning", "Values are missing!", 1001)
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return self._answer("warning", "Invalid inverter specified!", 4002)
        serial = next((s for s in self.models if _same_serial(data["serial"], s)), None)
        if serial is None:
            return self._answer("warning", "Invalid inverter specified!", 4002)
        data["serial"] = serial
        return data

    @staticmethod
    def _answer(kind: str, message: str, code: int) -> web.Response:
        return web.json_response({"type": kind, "message": message, "code": code})

    async def _power(self, request: web.Request) -> web.Response:
        data = await self._parse(request)
        if isinstance(data, web.Response):
            return data
        model, serial = self.models[data["serial"]], data["serial"]
        if isinstance(data.get("power"), bool):
            if not data["power"]:
                model.set_power(False)
            elif serial not in self.stuck_off:
                model.set_power(True)
        elif data.get("restart") is True:
            self.stuck_off.discard(serial)
            model.restart()
        else:
            return self._answer("warning", "Values are missing!", 1001)
        return self._answer("success", "Settings saved!", 1000)

    async def _limit(self, request: web.Request) -> web.Response:
        data = await self._parse(request)
        if isinstance(data, web.Response):
            return data
        value, kind = data.get("limit_value"), data.get("limit_type")
        if isinstance(value, bool) or not isinstance(value, int | float) or kind not in LIMIT_TYPES:
            return self._answer("warning", "Values are missing!", 1001)
        if kind != 1:
            return self._answer("warning", "simulator only does limit_type 1", 1001)
        self.models[data["serial"]].set_limit_percent(float(value), self.clock.now())
        return self._answer("success", "Settings saved!", 1000)
