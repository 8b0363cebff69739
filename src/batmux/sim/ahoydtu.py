"""An AhoyDTU's REST API around ``HoymilesModel`` inverters (shape from lumapu/ahoy
``src/web/RestApi.h`` getInverter / onApiPostBody / setCtrl).

GET ``/api/inverter/id/<id>`` answers the same keys as AhoyDTU 0.8 (``status`` as its
InverterStatus enum: 0 off/not available, 1 starting, 2 producing, 3 was producing, 4 was on;
``power_limit_read`` in %; ``ch[0]`` = AC values U_AC, I_AC, P_AC, F, PF, T, YieldTotal,
YieldDay, P_DC, Efficiency, Q, MaxPower, MaxTemp). POST ``/api/ctrl`` takes a JSON body whatever
its content type (as AhoyDTU does) and answers ``{"success": bool, "id": n}`` or an ``error``.
Knobs beyond ``HttpDeviceSim``'s: ``refuse_next`` (answer success false n times), ``stuck_off``
(ids that ignore power-on until a restart), ``status_override`` (id → status to report),
``password`` (control needs ``{"auth": pw}`` first, then the token in every body, as
``src/web/Protection.h``; ``logout()`` drops the token like AhoyDTU's logout timeout).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from batmux.netzero.ports import Clock
from batmux.sim.hoymiles import HoymilesModel
from batmux.sim.http_device import HttpDeviceSim


class AhoyDtuSim(HttpDeviceSim):
    def __init__(
        self, models: list[HoymilesModel], clock: Clock | None = None, password: str | None = None
    ) -> None:
        super().__init__(clock)
        self.models = models
        self.password = password
        self.token: str | None = None
        self._tokens = 0
        self.refuse_next = 0
        self.stuck_off: set[int] = set()
        self.status_override: dict[int, int] = {}
        self._was_producing: set[int] = set()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/inverter/id/{id}", self._inverter)
        app.router.add_post("/api/ctrl", self._ctrl)

    def status(self, index: int) -> int:
        model = self.models[index]
        if index in self.status_override:
            return self.status_override[index]
        if not model.reachable:
            return 0
        if model.producing:
            self._was_producing.add(index)
            return 2
        return 3 if index in self._was_producing else 1

    def inverter_json(self, index: int) -> dict[str, Any]:
        model = self.models[index]
        now = self.clock.now()
        p_ac = model.reported_power_w(now)
        p_dc = round(p_ac / 0.955, 1) if p_ac else 0.0
        ac = [
            230.1,
            round(p_ac / 230.1, 2),
            p_ac,
            50.0,
            1.0 if p_ac else 0.0,
            31.2,
            123.4,
            512.0,
            p_dc,
            95.5 if p_ac else 0.0,
            0.0,
            model.max_power_w,
            45.0,
        ]
        dc = [33.1, round(p_dc / 33.1, 2), p_dc, 512.0, 123.4, round(p_dc / 4.0, 3), p_dc]
        return {
            "id": index,
            "enabled": True,
            "name": f"HM-{int(model.max_power_w)}-{index}",
            "serial": f"1141{index:08x}",
            "version": "10012",
            "power_limit_read": round(model.limit_percent, 1),
            "power_limit_ack": model._pending is None,
            "max_pwr": int(model.max_power_w),
            "ts_last_success": int(now),
            "generation": 0,
            "status": self.status(index),
            "alarm_cnt": 0,
            "rssi": -62,
            "ts_max_ac_pwr": 0,
            "ts_max_temp": 0,
            "ch": [ac, dc],
            "ch_name": ["AC", "PV1"],
            "ch_max_pwr": [None, 400],
        }

    async def _inverter(self, request: web.Request) -> web.Response:
        try:
            index = int(request.match_info["id"])
            self.models[index]
        except (ValueError, IndexError):
            return web.json_response({"error": "inverter not found"})
        return web.json_response(self.inverter_json(index))

    async def _ctrl(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response({"success": False, "error": "Invalid input"})
        if not isinstance(body, dict):
            return web.json_response({"error": "deserialization failed"})
        return web.json_response(self.control(body))

    def logout(self) -> None:
        self.token = None

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        if "auth" in body:
            if body["auth"] != self.password:
                return {"success": False, "error": "ERR_AUTH"}
            self._tokens += 1
            self.token = f"{self._tokens:016X}"
            if "cmd" not in body:
                return {"success": True, "token": self.token}
        elif self.password and (self.token is None or body.get("token") != self.token):
            return {"success": False, "error": "ERR_PROTECTED"}
        index = body.get("id")
        if not isinstance(index, int) or not 0 <= index < len(self.models):
            return {"success": False, "error": "ERR_INDEX"}
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return {"success": False, "id": index, "error": "ERR_LIMIT_NOT_ACCEPT"}
        model, cmd, val = self.models[index], body.get("cmd"), body.get("val")
        if cmd == "power":
            if val == 1 and index not in self.stuck_off:
                model.set_power(True)
            elif val != 1:
                model.set_power(False)
        elif cmd == "restart":
            self.stuck_off.discard(index)
            model.restart()
        elif cmd == "limit_nonpersistent_relative" and isinstance(val, int | float):
            model.set_limit_percent(float(val), self.clock.now())
        else:
            return {"success": False, "id": index, "error": "ERR_UNKNOWN_CMD"}
        return {"success": True, "id": index}
