"""A Shelly relay (Gen1 HTTP API or Gen2 RPC over HTTP GET) with a load on each output.

Gen1 (Shelly 1PM/Plug S): GET ``/shelly`` → ``{"type", "mac", "auth", "fw", ...}`` (no ``gen``),
``/relay/<id>[?turn=on|off|toggle&timer=s]`` → relay status (``ison``, ``has_timer``,
``timer_remaining`` ...), ``/meter/<id>`` → ``power`` (404 when built with ``meter=False``).
Gen2 (Plus 1PM): ``/shelly`` → ``{"id", "model", "gen": 2, ...}``,
``/rpc/Switch.Set?id=&on=&toggle_after=`` → ``{"was_on"}``,
``/rpc/Switch.GetStatus?id=`` → ``output``, ``apower`` ...; the Gen1 ``/relay`` endpoints
answer too (Gen2 keeps them for compatibility). A timer flips the output when the injected clock
passes it, so a controller that stops re-arming the timer sees its charger switch off.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batmux.netzero.ports import Clock
from batmux.sim.http_device import HttpDeviceSim


class ShellySim(HttpDeviceSim):
    def __init__(
        self,
        gen: int = 1,
        relays: int = 1,
        clock: Clock | None = None,
        load_w: float = 500.0,
        meter: bool = True,
    ) -> None:
        super().__init__(clock)
        self.gen = gen
        self.meter = meter
        self.on = [False] * relays
        self.load_w = [load_w] * relays
        self.timer_at: list[float | None] = [None] * relays  # clock time of the flip
        self.timer_duration = [0.0] * relays
        self.refuse_next = 0  # answer the next n switching requests with HTTP 500

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/shelly", self._info)
        app.router.add_get("/relay/{id}", self._relay)
        if self.gen == 1:
            app.router.add_get("/meter/{id}", self._meter)
        else:
            app.router.add_get("/rpc/Switch.Set", self._rpc_set)
            app.router.add_get("/rpc/Switch.GetStatus", self._rpc_status)

    # -- device --------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock.now()
        for i, at in enumerate(self.timer_at):
            if at is not None and now >= at:
                self.on[i], self.timer_at[i] = not self.on[i], None

    def switch(self, relay: int, on: bool, timer_s: float = 0.0) -> None:
        self.on[relay] = on
        self.timer_at[relay] = self.clock.now() + timer_s if timer_s > 0 else None
        self.timer_duration[relay] = timer_s

    def _refused(self) -> bool:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return True
        return False

    def power_w(self, relay: int) -> float:
        self.tick()
        return self.load_w[relay] if self.on[relay] else 0.0

    def _index(self, raw: str | None) -> int:
        try:
            relay = int(raw or "0")
            self.on[relay]
        except (ValueError, IndexError):
            raise web.HTTPNotFound(text="Not Found") from None
        return relay

    # -- Gen1 ----------------------------------------------------------------------------
    async def _info(self, request: web.Request) -> web.Response:
        if self.gen == 1:
            info: dict[str, Any] = {
                "type": "SHSW-PM",
                "mac": "AABBCCDDEEFF",
                "auth": False,
                "fw": "20230913-112003/v1.14.0-gcb84623",
                "discoverable": True,
                "num_outputs": len(self.on),
                "num_meters": len(self.on) if self.meter else 0,
            }
        else:
            info = {
                "name": None,
                "id": "shellyplus1pm-aabbccddeeff",
                "mac": "AABBCCDDEEFF",
                "slot": 0,
                "model": "SNSW-001P16EU",
                "gen": self.gen,
                "fw_id": "20231107-164738/1.0.8-g8c7bb8d",
                "ver": "1.0.8",
                "app": "Plus1PM",
                "auth_en": False,
                "auth_domain": None,
            }
        return web.json_response(info)

    def relay_json(self, relay: int) -> dict[str, Any]:
        self.tick()
        at = self.timer_at[relay]
        return {
            "ison": self.on[relay],
            "has_timer": at is not None,
            "timer_started": 0,
            "timer_duration": self.timer_duration[relay] if at is not None else 0,
            "timer_remaining": max(0.0, at - self.clock.now()) if at is not None else 0,
            "overpower": False,
            "source": "http",
        }

    async def _relay(self, request: web.Request) -> web.Response:
        relay = self._index(request.match_info["id"])
        turn = request.query.get("turn")
        if turn is not None:
            if self._refused():
                return web.Response(status=500, text="busy")
            if turn not in ("on", "off", "toggle"):
                return web.Response(status=400, text="Bad turn!")
            self.tick()
            on = (not self.on[relay]) if turn == "toggle" else turn == "on"
            try:
                timer = float(request.query.get("timer", "0"))
            except ValueError:
                return web.Response(status=400, text="Bad timer!")
            self.switch(relay, on, timer)
        return web.json_response(self.relay_json(relay))

    async def _meter(self, request: web.Request) -> web.Response:
        relay = self._index(request.match_info["id"])
        if not self.meter:
            raise web.HTTPNotFound(text="Not Found")
        power = self.power_w(relay)
        return web.json_response(
            {
                "power": power,
                "overpower": 0.0,
                "is_valid": True,
                "timestamp": int(self.clock.now()),
                "counters": [power, 0, 0],
                "total": 1234,
            }
        )

    # -- Gen2 RPC ------------------------------------------------------------------------
    async def _rpc_set(self, request: web.Request) -> web.Response:
        relay = self._index(request.query.get("id"))
        on = request.query.get("on")
        if self._refused():
            return web.Response(status=500, text="busy")
        if on not in ("true", "false"):
            return web.json_response(
                {"code": -103, "message": "Missing required argument 'on'!"}, status=400
            )
        self.tick()
        was_on = self.on[relay]
        self.switch(relay, on == "true", float(request.query.get("toggle_after", "0")))
        return web.json_response({"was_on": was_on})

    async def _rpc_status(self, request: web.Request) -> web.Response:
        relay = self._index(request.query.get("id"))
        power = self.power_w(relay)
        status: dict[str, Any] = {
            "id": relay,
            "source": "HTTP_in",
            "output": self.on[relay],
            "apower": power,
            "voltage": 230.1,
            "current": round(power / 230.1, 3),
            "aenergy": {"total": 1234.5, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 0},
            "temperature": {"tC": 41.2, "tF": 106.2},
        }
        if self.timer_at[relay] is not None:
            status["timer_started_at"] = 0
            status["timer_duration"] = self.timer_duration[relay]
        return web.json_response(status)
